"""The imports bucket in the template: private, TLS only, encrypted, expiring, announcing files to its queue."""

from __future__ import annotations

import pytest

from infra import wiring
from tests.infra.conftest import role_statements

SPEC = wiring.IMPORTS_BUCKET


def _bucket(synthesized, resources) -> tuple[str, dict]:
    logical_id = synthesized.logical_id(synthesized.stack.buckets.buckets[SPEC.id])
    return logical_id, resources[logical_id]["Properties"]


def test_the_bucket_is_private_and_encrypted(synthesized, resources):
    _, props = _bucket(synthesized, resources)

    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_the_bucket_refuses_plain_http(synthesized, resources):
    logical_id, _ = _bucket(synthesized, resources)
    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": logical_id}
    ]
    denials = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert [s["Condition"] for s in denials] == [{"Bool": {"aws:SecureTransport": "false"}}]


def test_uploads_expire(synthesized, resources):
    _, props = _bucket(synthesized, resources)

    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert (rule["Prefix"], rule["ExpirationInDays"], rule["Status"]) == (SPEC.prefix, SPEC.expire_days, "Enabled")


def test_new_files_are_announced_to_the_import_files_queue(synthesized, resources):
    logical_id, props = _bucket(synthesized, resources)
    queue = synthesized.logical_id(synthesized.stack.sending.queues[wiring.IMPORT_FILES_QUEUE.id])

    (notification,) = props["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": SPEC.prefix}]
    # S3 checks the queue's policy when the bucket is configured: the policy comes first.
    policy = [
        key
        for key, r in resources.items()
        if r["Type"] == "AWS::SQS::QueuePolicy" and r["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    assert set(policy) <= set(resources[logical_id]["DependsOn"])


def test_only_s3_of_this_account_may_send_to_the_import_files_queue(synthesized, resources):
    queue = synthesized.logical_id(synthesized.stack.sending.queues[wiring.IMPORT_FILES_QUEUE.id])
    (policy,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and r["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    (allowed,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allowed["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allowed["Action"] == "sqs:SendMessage"
    assert allowed["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


@pytest.mark.parametrize("spec", wiring.FUNCTIONS, ids=lambda f: f.name)
def test_each_function_touches_only_the_objects_it_declares_and_only_under_the_prefix(synthesized, resources, spec):
    statements = role_statements(synthesized, resources, spec)
    s3 = {
        (action, str(statement["Resource"]))
        for statement in statements
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith("s3:")
    }
    expected = {"s3:GetObject" for _ in spec.reads_objects} | {"s3:PutObject" for _ in spec.writes_objects}
    assert {action for action, _ in s3} == expected
    assert all(f"/{SPEC.prefix}*" in resource for _, resource in s3)
