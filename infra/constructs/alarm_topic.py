"""The SNS topic every alarm notifies: the deployer subscribes their channel to it (stack output alarm-topic)."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

CLOUDWATCH = "cloudwatch.amazonaws.com"


class AlarmTopic(Construct):
    """An encrypted, TLS-only topic that CloudWatch alarms of this account and region may publish to."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        # A key of our own, not the AWS-managed alias/aws/sns: that key's policy cannot be changed, and CloudWatch
        # needs kms:GenerateDataKey* and kms:Decrypt to publish to an encrypted topic (without them every
        # notification is dropped silently). The key protects nothing but alarm messages in flight, so it goes
        # with the stack.
        self.key = kms.Key(
            self,
            "Key",
            description="closedloop: encrypts the alarm topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsEncryptNotifications",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                # In a key policy "*" is this key. No source conditions: AWS documents this statement without
                # them, and the topic policy below already limits who may publish.
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="closedloop alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        # The topic policy replaces SNS's default one, so CloudWatch is allowed explicitly: alarms of this account
        # and region only (confused-deputy guard), nothing else.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublish",
                principals=[iam.ServicePrincipal(CLOUDWATCH)],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="cloudwatch",
                            resource="alarm",
                            resource_name="*",
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                    },
                },
            )
        )
