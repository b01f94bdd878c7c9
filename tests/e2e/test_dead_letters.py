"""/_local/dead-letters: what is parked in the dead-letter queues, and why, without consuming it."""

from __future__ import annotations

import boto3
import pytest

from closedloop_local import aws
from closedloop_local.client import LocalClient
from closedloop_local.runtime import Runtime
from infra import wiring

pytestmark = pytest.mark.e2e

POISON = "this is not a send request"


@pytest.fixture(scope="module")
def poisoned(runtime: Runtime, client: LocalClient) -> dict:
    """A body the sender cannot read is put on the send queue, then the queues are drained."""
    sqs = boto3.client(
        "sqs",
        endpoint_url=runtime.resources.endpoint,
        region_name=aws.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    sent = sqs.send_message(QueueUrl=runtime.resources.queues[wiring.SEND_QUEUE.id].url, MessageBody=POISON)
    return {"message_id": sent["MessageId"], "drain": client.drain()}


def test_a_poison_message_ends_in_the_send_queues_dlq(poisoned: dict):
    assert poisoned["drain"]["dead_letters"] == {wiring.SEND_QUEUE.id: 1}


def test_the_parked_message_is_listed_with_its_source_function_body_and_reason(client: LocalClient, poisoned: dict):
    (parked,) = client.dead_letters()

    assert parked["source"] == wiring.SEND_QUEUE.id
    assert parked["function"] == wiring.SENDER.name
    assert parked["message_id"] == poisoned["message_id"]  # moto keeps the id when it moves the message
    assert parked["body"] == POISON
    assert parked["reason"].endswith("a send request must be JSON")  # the last line of the sender's error
    assert "\n" not in parked["reason"]


def test_looking_at_the_dead_letters_consumes_nothing(client: LocalClient, poisoned: dict):
    first = client.dead_letters()
    again = client.dead_letters()

    assert [m["message_id"] for m in again] == [m["message_id"] for m in first] == [poisoned["message_id"]]
    assert client.drain()["dead_letters"] == {wiring.SEND_QUEUE.id: 1}
