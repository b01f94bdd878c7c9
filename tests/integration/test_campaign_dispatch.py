"""Campaign dispatch against moto, through the real handlers: every job delivered twice, a worker killed mid-page,
a pause and resume mid-campaign, a cancelled campaign sent again: each recipient gets exactly one mail."""

from __future__ import annotations

import json
from collections import Counter

import boto3
import pytest

from closedloop.adapters.aws import SqsSendQueue
from infra import wiring
from tests.integration.conftest import admin, drain_sends, invoke, outbox, put_profile, queue_messages


def _audience(group: str, n: int) -> list[str]:
    ids = [f"{group}-{i}" for i in range(n)]
    for profile_id in ids:
        put_profile(profile_id, group=group)
    return ids


def _campaign(group: str) -> str:
    rules = {"field": "attributes.group", "op": "==", "value": group}
    status, body = admin("POST", "/v1/campaigns", {"name": group, "template": "newsletter-demo", "rules": rules})
    assert status == 201, body
    return body["campaign_id"]


def _run(resources, clock, *, twice: bool = False, rounds: int = 30) -> None:
    """Deliver dispatch jobs and sends until both queues are empty (moving the clock past delays)."""
    for _ in range(rounds):
        jobs = queue_messages(wiring.DISPATCH_QUEUE, resources)
        for record in jobs:
            for _ in range(2 if twice else 1):
                if not _deliver(record):  # the batch failed whole (the worker died): SQS delivers it again
                    assert _deliver(record)
        sent = drain_sends(resources)
        if not jobs and not sent.get("batchItemFailures") and not queue_messages(wiring.SEND_QUEUE, resources):
            clock.advance(seconds=900)
            if not queue_messages_peek(resources):
                return


def _deliver(record: dict) -> bool:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    try:
        return not invoke(wiring.DISPATCH, {"Records": [record]})["batchItemFailures"]
    except BatchProcessingError:
        return False


def queue_messages_peek(resources) -> bool:
    import boto3

    sqs = boto3.client("sqs")
    for queue in (wiring.DISPATCH_QUEUE, wiring.SEND_QUEUE):
        attributes = sqs.get_queue_attributes(QueueUrl=resources.queues[queue.id].url, AttributeNames=["All"])
        counts = attributes["Attributes"]
        if any(int(counts[k]) for k in ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed")):
            return True
    return False


def _mails(campaign_id: str) -> Counter:
    return Counter(m["to"][0] for m in outbox.messages() if m["tags"].get("campaign") == campaign_id)


def _expect_once(campaign_id: str, ids: list[str]) -> None:
    assert _mails(campaign_id) == {f"{profile_id}@example.net": 1 for profile_id in ids}
    status, body = admin("GET", f"/v1/campaigns/{campaign_id}")
    assert status == 200 and body["status"] == "sent" and body["targeted"] == len(ids)


def test_every_dispatch_job_delivered_twice_sends_each_recipient_once(resources, clock):
    ids = _audience("twice", 12)
    campaign_id = _campaign("twice")
    assert admin("POST", f"/v1/campaigns/{campaign_id}/send")[0] == 202
    _run(resources, clock, twice=True)
    _expect_once(campaign_id, ids)


def test_a_worker_killed_mid_page_loses_and_repeats_nobody(resources, clock, monkeypatch):
    ids = _audience("killed", 25)
    campaign_id = _campaign("killed")
    original, calls = SqsSendQueue.enqueue, []

    def dies_after_the_first_batch(self, requests, delay_seconds=0):
        calls.append(len(requests))
        if len(calls) == 2:
            raise RuntimeError("the worker was killed")
        return original(self, requests, delay_seconds)

    monkeypatch.setattr(SqsSendQueue, "enqueue", dies_after_the_first_batch)
    admin("POST", f"/v1/campaigns/{campaign_id}/send")
    _run(resources, clock)
    assert len(calls) > 2
    _expect_once(campaign_id, ids)


def test_pause_and_resume_mid_campaign_send_each_recipient_once(resources, clock):
    ids = _audience("paused", 15)
    campaign_id = _campaign("paused")
    admin("POST", f"/v1/campaigns/{campaign_id}/send")
    jobs = queue_messages(wiring.DISPATCH_QUEUE, resources)
    for record in jobs[:3]:  # part of the audience is scanned; the rest stays on the queue
        invoke(wiring.DISPATCH, {"Records": [record]})
    sqs = boto3.client("sqs")
    for record in jobs[3:]:
        sqs.send_message(QueueUrl=resources.queues[wiring.DISPATCH_QUEUE.id].url, MessageBody=record["body"])
    status, body = admin("POST", f"/v1/campaigns/{campaign_id}/pause")
    assert status == 200 and body["status"] == "paused"
    _run(resources, clock)
    assert admin("GET", f"/v1/campaigns/{campaign_id}")[1]["status"] == "paused"
    before = sum(_mails(campaign_id).values())
    assert before < len(ids)
    status, body = admin("POST", f"/v1/campaigns/{campaign_id}/resume")
    assert status == 202 and body["status"] == "sending"
    _run(resources, clock)
    _expect_once(campaign_id, ids)


def test_a_cancelled_campaign_sent_again_is_a_409_and_sends_nothing(resources, clock):
    _audience("cancelled", 3)
    campaign_id = _campaign("cancelled")
    assert admin("POST", f"/v1/campaigns/{campaign_id}/cancel")[0] == 200
    status, body = admin("POST", f"/v1/campaigns/{campaign_id}/send")
    assert (status, body["code"]) == (409, "campaign_cancelled")
    _run(resources, clock)
    assert _mails(campaign_id) == {}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {"name": "x", "template": "nope", "rules": {"field": "status", "op": "==", "value": "subscribed"}},
            404,
            "template_not_found",
        ),
        ({"name": "x", "template": "newsletter-demo", "segment": "nobody"}, 404, "segment_not_found"),
        ({"name": "x", "template": "newsletter-demo", "rules": {"all": [{"op": "=="}]}}, 400, "invalid_input"),
        (
            {"name": "x", "template": "newsletter-demo", "rules": {}, "send_at": "2020-01-01T00:00:00Z"},
            400,
            "invalid_input",
        ),
    ],
)
def test_bad_campaigns_are_refused_and_nothing_is_written(resources, body, status, code):
    answer = admin("POST", "/v1/campaigns", body)
    assert (answer[0], answer[1]["code"]) == (status, code), answer
    assert json.dumps(answer[1])
