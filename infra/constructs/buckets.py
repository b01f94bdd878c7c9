"""The S3 buckets of infra/wiring.py: private, TLS only, encrypted, expiring their objects, announcing new ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import wiring
from infra.constructs.nag import acknowledge, arn_placeholder

_NO_ACCESS_LOGS = (
    "The bucket holds only files waiting to be imported, for at most a few days; every object is written by the "
    "admin function or through a URL it signed, and read by the import functions. Server access logs would need a "
    "second bucket that keeps the same personal data (names in keys, requesters) longer than the files themselves."
)


class Buckets(Construct):
    """One bucket per wiring.Bucket, keyed by wiring id; `grant_read`/`grant_write` cover only its prefix."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        queues: Mapping[str, sqs.Queue],
        buckets: Sequence[wiring.Bucket] = wiring.BUCKETS,
    ) -> None:
        super().__init__(scope, id)
        self.buckets: dict[str, s3.Bucket] = {spec.id: self._bucket(spec, queues) for spec in buckets}

    def _bucket(self, spec: wiring.Bucket, queues: Mapping[str, sqs.Queue]) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            spec.id,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-uploads",
                    prefix=spec.prefix,
                    expiration=Duration.days(spec.expire_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            # Transient files: they go with the stack (deletion waits until the lifecycle has emptied the bucket).
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(bucket, "AwsSolutions-S1", _NO_ACCESS_LOGS)
        if spec.notifies is not None:
            self._notify(bucket, spec, queues[spec.notifies.id])
        return bucket

    def _notify(self, bucket: s3.Bucket, spec: wiring.Bucket, queue: sqs.Queue) -> None:
        """New objects under the prefix -> the queue, declared on the bucket itself (no custom resource).

        S3 checks that it may send to the queue when the bucket is configured, so the queue's policy must exist
        first; it names this account rather than the bucket's ARN, which would make the two depend on each other.
        """
        queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[queue.queue_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                    "ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"},
                },
            )
        )
        cfn: s3.CfnBucket = bucket.node.default_child
        cfn.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            queue_configurations=[
                s3.CfnBucket.QueueConfigurationProperty(
                    event="s3:ObjectCreated:*",
                    queue=queue.queue_arn,
                    filter=s3.CfnBucket.NotificationFilterProperty(
                        s3_key=s3.CfnBucket.S3KeyFilterProperty(
                            rules=[s3.CfnBucket.FilterRuleProperty(name="prefix", value=spec.prefix)]
                        )
                    ),
                )
            ]
        )
        bucket.node.add_dependency(queue.node.find_child("Policy"))

    def grant_read(self, spec: wiring.Bucket, function: lambda_.Function) -> None:
        self._grant(spec, function, "s3:GetObject", "reads")

    def grant_write(self, spec: wiring.Bucket, function: lambda_.Function) -> None:
        # PutObject also authorises the presigned PUT URLs the function hands out (they carry its credentials).
        self._grant(spec, function, "s3:PutObject", "writes (and signs upload URLs for)")

    def _grant(self, spec: wiring.Bucket, function: lambda_.Function, action: str, verb: str) -> None:
        bucket = self.buckets[spec.id]
        iam.Grant.add_to_principal(
            grantee=function, actions=[action], resource_arns=[bucket.arn_for_objects(f"{spec.prefix}*")]
        )
        acknowledge(
            function.role,
            f"AwsSolutions-IAM5[Resource::{arn_placeholder(bucket)}/{spec.prefix}*]",
            f"The function {verb} the objects under {spec.prefix} of the {spec.id} bucket only, whose keys are "
            "import ids it cannot know in advance; nothing else of the bucket and no other bucket.",
        )
