"""Offers against moto: the sender counts a mail's offers on the profile in the transaction that marks it sent, so a
redelivered request or a retried transaction never counts twice; GET and the GDPR export show `offers_sent`."""

from __future__ import annotations

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from pynamodb.connection import Connection

from closedloop import services
from closedloop.adapters.dynamo import DynamoLedger
from closedloop.values import MessageStatus
from infra import wiring
from tests.integration.conftest import admin, invoke, mails_to, put_profile, queue_messages

CARS_FIRST = {"c-ev-weekend": 1, "c-tyres": 1, "c-lease": 1}


def digest(profile_id: str, key: str) -> None:
    status, body = admin(
        "POST", "/v1/messages", {"profile_id": profile_id, "template": "offers-digest", "idempotency_key": key}
    )
    assert status == 202, body


def with_interest_in_cars(profile_id: str) -> None:
    put_profile(profile_id)
    boto3.client("dynamodb").update_item(
        TableName=services.settings().profiles_table,
        Key={"profile_id": {"S": profile_id}},
        UpdateExpression="SET interests = :i",
        ExpressionAttributeValues={":i": {"M": {"cars": {"N": "5"}}}},
    )


def test_the_same_send_request_delivered_twice_counts_its_offers_once(resources, profile_id):
    with_interest_in_cars(profile_id)
    digest(profile_id, "digest-1")
    records = queue_messages(wiring.SEND_QUEUE, resources)
    assert invoke(wiring.SENDER, {"Records": records}) == {"batchItemFailures": []}
    assert invoke(wiring.SENDER, {"Records": records}) == {"batchItemFailures": []}  # SQS delivers at least once
    assert len(mails_to(profile_id)) == 1
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["offers_sent"] == CARS_FIRST


def test_a_sender_that_dies_after_marking_sent_is_retried_without_counting_again(resources, profile_id, monkeypatch):
    with_interest_in_cars(profile_id)
    digest(profile_id, "digest-1")
    records = queue_messages(wiring.SEND_QUEUE, resources)
    mark_sent = DynamoLedger.mark_sent

    def mark_then_die(self, *args, **kwargs):
        mark_sent(self, *args, **kwargs)
        mark_sent(self, *args, **kwargs)  # the transaction retried after its answer was lost: a no-op
        raise RuntimeError("the worker died after the transaction committed")

    with monkeypatch.context() as patch:
        patch.setattr(DynamoLedger, "mark_sent", mark_then_die)
        with pytest.raises(BatchProcessingError):
            invoke(wiring.SENDER, {"Records": records})
    assert invoke(wiring.SENDER, {"Records": records}) == {"batchItemFailures": []}
    assert len(mails_to(profile_id)) == 1
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["offers_sent"] == CARS_FIRST


def test_the_export_shows_which_offers_the_person_was_sent(resources, profile_id):
    with_interest_in_cars(profile_id)
    digest(profile_id, "digest-1")
    invoke(wiring.SENDER, {"Records": queue_messages(wiring.SEND_QUEUE, resources)})
    status, export = admin("GET", f"/v1/profiles/{profile_id}/export")
    assert status == 200 and export["profile"]["offers_sent"] == CARS_FIRST


def sent(profile_id: str, message_id: str = "m-offers") -> MessageStatus:
    return MessageStatus(message_id, profile_id, "offers-digest", "sent", "2026-03-01T12:00:00Z", None, "ses-1")


def test_a_profile_stored_before_offers_sent_existed_gets_the_map_and_counts_once(resources, profile_id, clock):
    # Given a profile item as an older version wrote it: no offers_sent map to ADD into
    boto3.client("dynamodb").put_item(
        TableName=services.settings().profiles_table,
        Item={"profile_id": {"S": profile_id}, "email": {"S": "old@example.net"}, "status": {"S": "subscribed"}},
    )
    ledger = services.ledger()
    assert ledger.reserve_send(f"k#{profile_id}", "m-offers", clock.now(), profile_id=profile_id)
    ledger.mark_sent(f"k#{profile_id}", sent(profile_id), offers=("a", "b"))
    ledger.mark_sent(f"k#{profile_id}", sent(profile_id), offers=("a", "b"))
    assert services.profiles().get(profile_id).offers_sent == {"a": 1, "b": 1}
    assert ledger.get_message_status("m-offers") == sent(profile_id)


def test_a_profile_erased_before_its_mail_was_marked_sent_is_not_recreated(resources, profile_id, clock):
    ledger = services.ledger()
    assert ledger.reserve_send(f"k#{profile_id}", "m-gone", clock.now(), profile_id=profile_id)
    ledger.mark_sent(f"k#{profile_id}", sent(profile_id, "m-gone"), offers=("a",))
    assert services.profiles().get(profile_id) is None
    assert ledger.get_message_status("m-gone").state == "sent"


def test_marking_sent_is_one_transaction_of_three_items(resources, profile_id, clock, monkeypatch):
    put_profile(profile_id)
    ledger = services.ledger()
    calls = []
    original = Connection.transact_write_items

    def counting(self, *args, **kwargs):
        calls.append(len(kwargs["put_items"]) + len(kwargs["update_items"]))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "transact_write_items", counting)
    assert ledger.reserve_send(f"k#{profile_id}", "m-one", clock.now(), profile_id=profile_id)
    ledger.mark_sent(f"k#{profile_id}", sent(profile_id, "m-one"), offers=("a", "a", "b"))
    assert calls == [3]
    assert services.profiles().get(profile_id).offers_sent == {"a": 1, "b": 1}
