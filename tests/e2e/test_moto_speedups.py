"""The local runtime's moto speed-ups change no answer.

A remembered update expression is reused unchanged, and a transaction rolled back item by item (instead of by
copies of whole tables) leaves the tables and the stream exactly as they were.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.parsing.ast_nodes import Node
from moto.dynamodb.parsing.expressions import UpdateExpressionParser

from closedloop_local import aws, moto_speedups
from closedloop_local.runtime import Runtime
from infra import wiring

pytestmark = pytest.mark.e2e

EXPRESSION = "SET #name = :name ADD #visits :one"


def shape(node: object) -> object:
    """A parsed expression as nested tuples, to compare two trees by value."""
    if isinstance(node, Node):
        return (type(node).__name__, tuple(shape(child) for child in node.children or ()))
    return repr(node)


def client(runtime: Runtime, service: str):
    return boto3.client(
        service,
        endpoint_url=runtime.resources.endpoint,
        region_name=aws.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def dynamodb(runtime: Runtime):
    return client(runtime, "dynamodb")


@pytest.fixture(scope="module")
def profiles(runtime: Runtime) -> str:
    return runtime.resources.tables[wiring.PROFILES.id]


@pytest.fixture(scope="module")
def ledger(runtime: Runtime) -> str:
    return runtime.resources.tables[wiring.LEDGER.id]


def stream_records(runtime: Runtime, table: str) -> int:
    """How many records the table's stream holds, read from its beginning."""
    streams = client(runtime, "dynamodbstreams")
    arn = client(runtime, "dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    count = 0
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        answer = streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)
        count += len(answer["Records"])
    return count


def profile_key(profile_id: str) -> dict:
    return {wiring.PROFILES.partition_key: {"S": profile_id}}


def test_a_remembered_expression_is_applied_again_and_again_and_stays_unchanged(dynamodb, profiles: str):
    remembered = UpdateExpressionParser.make(EXPRESSION)
    before = shape(remembered)
    for name in ("Ada", "Bea", "Cy"):
        item = dynamodb.update_item(
            TableName=profiles,
            Key=profile_key("p-speedups"),
            UpdateExpression=EXPRESSION,
            ExpressionAttributeNames={"#name": "name", "#visits": "visits"},
            ExpressionAttributeValues={":name": {"S": name}, ":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )["Attributes"]

    assert item["name"] == {"S": "Cy"} and item["visits"] == {"N": "3"}
    assert UpdateExpressionParser.make(EXPRESSION) is remembered
    assert shape(remembered) == before


def add_visit(profiles: str, profile_id: str) -> dict:
    return {
        "Update": {
            "TableName": profiles,
            "Key": profile_key(profile_id),
            "UpdateExpression": "ADD visits :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def put_new(ledger: str, pk: str) -> dict:
    return {
        "Put": {
            "TableName": ledger,
            "Item": {wiring.LEDGER.partition_key: {"S": pk}, "state": {"S": "new"}},
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": wiring.LEDGER.partition_key},
        }
    }


def test_a_transaction_applies_every_write(runtime: Runtime, dynamodb, profiles: str, ledger: str):
    dynamodb.transact_write_items(TransactItems=[add_visit(profiles, "p-tx-ok"), put_new(ledger, "tx#ok")])

    assert dynamodb.get_item(TableName=profiles, Key=profile_key("p-tx-ok"))["Item"]["visits"] == {"N": "1"}
    assert dynamodb.get_item(TableName=ledger, Key={"pk": {"S": "tx#ok"}})["Item"]["state"] == {"S": "new"}


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(
    runtime: Runtime, dynamodb, profiles: str, ledger: str
):
    dynamodb.transact_write_items(TransactItems=[add_visit(profiles, "p-tx-undo"), put_new(ledger, "tx#taken")])
    records_before = stream_records(runtime, profiles)

    with pytest.raises(ClientError) as cancelled:
        # The first write is applied before the second's condition fails: it must be undone.
        dynamodb.transact_write_items(TransactItems=[add_visit(profiles, "p-tx-undo"), put_new(ledger, "tx#taken")])
    with pytest.raises(ClientError):
        # A profile that did not exist must not exist afterwards either.
        dynamodb.transact_write_items(TransactItems=[add_visit(profiles, "p-tx-never"), put_new(ledger, "tx#taken")])

    reasons = [reason["Code"] for reason in cancelled.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert dynamodb.get_item(TableName=profiles, Key=profile_key("p-tx-undo"))["Item"]["visits"] == {"N": "1"}
    assert "Item" not in dynamodb.get_item(TableName=profiles, Key=profile_key("p-tx-never"))
    assert stream_records(runtime, profiles) == records_before


def test_a_transaction_naming_one_item_twice_is_refused_and_changes_nothing(dynamodb, profiles: str):
    with pytest.raises(ClientError) as refused:
        dynamodb.transact_write_items(
            TransactItems=[add_visit(profiles, "p-tx-twice"), add_visit(profiles, "p-tx-twice")]
        )

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Item" not in dynamodb.get_item(TableName=profiles, Key=profile_key("p-tx-twice"))


def test_taking_the_speedups_out_restores_moto_as_it_was(runtime: Runtime):
    installed = UpdateExpressionParser.__dict__["make"]
    undo = moto_speedups.install()
    undo()

    assert UpdateExpressionParser.__dict__["make"] is installed
