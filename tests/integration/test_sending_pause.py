"""The sending pause against moto: the admin routes, the sender holding mail, the release job, the alarm rule."""

import json
import re

import boto3
import pytest

from closedloop import services
from closedloop.sending import SendRequest
from closedloop_local import aws
from infra import wiring
from tests.integration.conftest import (
    admin,
    drain_sends,
    invoke,
    mails_to,
    put_profile,
    queue_messages,
    tap_events,
    tracking,
)


def release(resources) -> list[dict]:
    """Run every queued release job, as the release queue's event source mapping would."""
    reports = []
    while records := queue_messages(wiring.RELEASE_QUEUE, resources):
        reports.append(invoke(wiring.RELEASE, {"Records": records}))
    return reports


@pytest.fixture
def paused(resources):
    """Sending paused for the test; afterwards running again with nothing held (tests share one moto)."""
    status, state = admin("POST", "/v1/sending/pause", {"reason": "integration test"})
    assert (status, state["paused"]) == (200, True)
    yield state
    admin("POST", "/v1/sending/resume")
    release(resources)
    drain_sends(resources)
    assert admin("GET", "/v1/sending")[1] == {"paused": False, "reason": None, "since": None, "held": 0}


def message(profile_id: str, key: str = "news-1") -> str:
    status, body = admin(
        "POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo", "idempotency_key": key}
    )
    assert status == 202, body
    return body["message_id"]


def test_paused_marketing_is_held_transactional_goes_out_and_resume_sends_the_held_mail_once(
    resources, profile_id, paused
):
    put_profile(profile_id)
    message_id = message(profile_id)
    drain_sends(resources)
    status, held = admin("GET", f"/v1/messages/{message_id}")
    assert (status, held["state"], held["reason"]) == (200, "held", "sending_paused")
    assert mails_to(profile_id) == []
    state = admin("GET", "/v1/sending")[1]
    assert (state["paused"], state["reason"], state["since"], state["held"]) == (
        True,
        "integration test",
        "2026-03-01T12:00:00Z",
        1,
    )

    confirmation = SendRequest(f"confirm#{profile_id}", profile_id, "birthday", transactional=True)
    services.send_queue().enqueue([confirmation])
    drain_sends(resources)
    assert len(mails_to(profile_id)) == 1  # the confirmation
    assert admin("GET", f"/v1/messages/{confirmation.message_id}")[1]["state"] == "sent"

    status, resumed = admin("POST", "/v1/sending/resume")
    assert (status, resumed["paused"], resumed["held"]) == (200, False, 1)
    assert release(resources) == [{"batchItemFailures": []}]
    drain_sends(resources)
    assert admin("GET", f"/v1/messages/{message_id}")[1]["state"] == "sent"
    assert len(mails_to(profile_id)) == 2
    # The same message asked for again sends nothing new: its send key went out.
    message(profile_id)
    drain_sends(resources)
    assert len(mails_to(profile_id)) == 2


def test_a_held_message_delivered_twice_by_the_queue_is_held_once(resources, profile_id, paused):
    put_profile(profile_id)
    message(profile_id)
    records = queue_messages(wiring.SEND_QUEUE, resources)
    invoke(wiring.SENDER, {"Records": records})
    invoke(wiring.SENDER, {"Records": records})
    assert admin("GET", "/v1/sending")[1]["held"] == 1
    held = boto3.client("dynamodb").query(
        TableName=resources.tables["held"],
        KeyConditionExpression="profile_id = :p",
        ExpressionAttributeValues={":p": {"S": profile_id}},
    )["Items"]
    assert [item["send_key"]["S"] for item in held] == [f"api#news-1#{profile_id}"]


def test_an_unsubscribe_racing_a_queued_send_wins(resources, profile_id):
    put_profile(profile_id)
    message(profile_id, "first")
    drain_sends(resources)
    (first,) = mails_to(profile_id)
    token = re.search(r"/u/([^>\s]+)", first["headers"]["List-Unsubscribe"]).group(1)
    second = message(profile_id, "second")  # queued, not yet sent
    assert tracking(wiring.UNSUBSCRIBE, "POST", token, form="List-Unsubscribe=One-Click")["statusCode"] == 200
    drain_sends(resources)
    assert len(mails_to(profile_id)) == 1
    skipped = admin("GET", f"/v1/messages/{second}")[1]
    assert (skipped["state"], skipped["reason"]) == ("skipped", "no_consent")


def test_an_unsubscribe_while_held_wins_over_the_release(resources, profile_id, paused):
    put_profile(profile_id)
    message_id = message(profile_id)
    drain_sends(resources)
    admin("PUT", f"/v1/profiles/{profile_id}", {"status": "unsubscribed"})
    admin("POST", "/v1/sending/resume")
    release(resources)
    drain_sends(resources)
    assert mails_to(profile_id) == []
    assert admin("GET", f"/v1/messages/{message_id}")[1]["reason"] == "no_consent"


@pytest.mark.parametrize(
    "body, code",
    [
        ('{"reason": 5}', "invalid_input"),
        ('{"reason": "x", "extra": 1}', "invalid_input"),
        ('{"reason": ', "invalid_input"),
        ("[]", "invalid_input"),
    ],
)
def test_a_bad_pause_body_is_refused_and_nothing_is_paused(resources, body, code):
    status, answer = admin("POST", "/v1/sending/pause", raw_body=body)
    assert (status, answer["code"]) == (400, code) and answer["message"]
    assert admin("GET", "/v1/sending")[1]["paused"] is False


def test_hostile_text_in_a_reason_is_stored_as_it_came(resources, paused):
    admin("POST", "/v1/sending/resume")
    reason = "<script>alert(1)</script>\r\nBcc: eve@example.com"
    assert admin("POST", "/v1/sending/pause", {"reason": reason})[1]["reason"] == reason
    assert admin("GET", "/v1/sending")[1]["reason"] == reason


def alarm_event(metric: str) -> dict:
    """A CloudWatch "Alarm State Change" event as EventBridge delivers it (AWS docs, single metric alarm)."""
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": aws.ACCOUNT_ID,
        "time": "2026-03-01T12:00:00Z",
        "region": aws.REGION,
        "resources": [f"arn:aws:cloudwatch:{aws.REGION}:{aws.ACCOUNT_ID}:alarm:closedloop-ses-bounce-rate"],
        "detail": {
            "alarmName": "closedloop-ses-bounce-rate",
            "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": "2026-03-01T12:00:00.000+0000"},
            "previousState": {"value": "OK", "reason": "", "timestamp": "2026-03-01T11:55:00.000+0000"},
            "configuration": {
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {"namespace": "AWS/SES", "name": metric, "dimensions": {}},
                            "period": 300,
                            "stat": "Maximum",
                        },
                        "returnData": True,
                    }
                ]
            },
        },
    }


def test_the_bounce_rate_alarm_reaches_the_function_through_its_rule_and_pauses_sending(resources):
    event = alarm_event("Reputation.BounceRate")
    back_to_ok = {**event["detail"], "state": {"value": "OK"}}
    boto3.client("events").put_events(
        Entries=[
            {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(detail)}
            for detail in (event["detail"], back_to_ok)
        ]
    )
    delivered = [e for e in tap_events(resources) if e["source"] == "aws.cloudwatch"]
    assert [e["detail"]["state"]["value"] for e in delivered] == ["ALARM"]  # the rule lets only ALARM through
    try:
        assert invoke(wiring.REPUTATION_ALARM, delivered[0]) == {"paused": True, "reason": "bounce rate alarm"}
        state = admin("GET", "/v1/sending")[1]
        assert (state["paused"], state["reason"]) == (True, "bounce rate alarm")
    finally:
        admin("POST", "/v1/sending/resume")
        release(resources)


def test_an_alarm_on_another_metric_does_not_pause(resources):
    event = alarm_event("Reputation.BounceRate")
    event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"].update(namespace="AWS/Lambda", name="Errors")
    assert invoke(wiring.REPUTATION_ALARM, event) == {"paused": False, "reason": None}
    assert admin("GET", "/v1/sending")[1]["paused"] is False
