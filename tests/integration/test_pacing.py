"""Quiet hours, the frequency cap and the deferrals tick against moto: the handlers, the tables, the send queue."""

import json
from datetime import timedelta

import boto3

from closedloop import services
from closedloop.due_items import DueItem
from closedloop.sending import SendRequest
from infra import wiring
from tests.integration.conftest import admin, drain_sends, invoke, mails_to, put_profile, queue_messages

TICK = {"schedule": "deferrals"}


def deferred_items_of(resources, profile_id: str) -> list[dict]:
    return boto3.client("dynamodb").query(
        TableName=resources.tables["deferred"],
        IndexName="by_profile",
        KeyConditionExpression="profile_id = :p",
        ExpressionAttributeValues={":p": {"S": profile_id}},
    )["Items"]


def test_a_capped_message_at_night_in_tokyo_waits_in_the_table_and_goes_out_once_in_the_morning(
    resources, profile_id, clock
):
    put_profile(profile_id, timezone="Asia/Tokyo")  # the clock: 2026-03-01T12:00Z, 21:00 in Tokyo
    status, body = admin(
        "POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo", "capped": True}
    )
    assert status == 202
    drain_sends(resources)
    shown = admin("GET", f"/v1/messages/{body['message_id']}")[1]
    assert (shown["state"], shown["reason"], shown["deferred_until"]) == (
        "deferred",
        "quiet_hours",
        "2026-03-01T23:00:00Z",  # 08:00 in Tokyo
    )
    assert len(deferred_items_of(resources, profile_id)) == 1 and mails_to(profile_id) == []

    clock.advance(hours=10, minutes=59, seconds=59)  # 07:59:59 in Tokyo: not yet
    invoke(wiring.DEFERRALS, TICK)
    assert len(deferred_items_of(resources, profile_id)) == 1
    clock.advance(seconds=1)
    invoke(wiring.DEFERRALS, TICK)
    invoke(wiring.DEFERRALS, TICK)
    drain_sends(resources)
    assert [m["subject"] for m in mails_to(profile_id)] == ["Ada, two ideas for your next adventure"]
    assert admin("GET", f"/v1/messages/{body['message_id']}")[1]["state"] == "sent"
    assert deferred_items_of(resources, profile_id) == []


def test_the_tick_enqueues_what_is_due_once_even_when_run_twice_and_leaves_future_items(resources, profile_id, clock):
    now = services.clock().now()
    store = services.deferred_items()

    def item(key: str, due) -> DueItem:
        request = SendRequest(send_key=key, profile_id=profile_id, template="newsletter-demo", capped=True)
        return DueItem("deferred", key, due, request.to_json(), profile_id)

    due = [item(f"tick#{n}#{profile_id}", now - timedelta(minutes=n)) for n in range(12)]
    later = item(f"tick#later#{profile_id}", now + timedelta(minutes=1))
    for each in [*due, later]:
        store.put(each, 0)
    first = invoke(wiring.DEFERRALS, TICK)
    second = invoke(wiring.DEFERRALS, TICK)
    enqueued = [json.loads(r["body"])["send_key"] for r in queue_messages(wiring.SEND_QUEUE, resources)]
    assert sorted(k for k in enqueued if profile_id in k) == sorted(i.key for i in due)
    assert first["complete"] and second["handed_on"] == 0
    assert [i["due_key"]["S"].partition("#")[2] for i in deferred_items_of(resources, profile_id)] == [later.key]
    store.remove(later)
