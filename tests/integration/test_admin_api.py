import json

import pytest
from botocore.exceptions import ClientError

from closedloop.adapters.aws import SqsSendQueue
from infra import wiring
from tests.integration.conftest import admin, drain_sends, mails_to, put_profile, queue_messages


def test_putting_a_new_profile_answers_201_and_again_200(resources, profile_id):
    body = {
        "email": f"{profile_id}@example.com",
        "status": "subscribed",
        "attributes": {"first_name": "Ada", "birthday": "1990-06-15", "timezone": "Europe/Berlin"},
    }
    first, created = admin("PUT", f"/v1/profiles/{profile_id}", body)
    second, updated = admin("PUT", f"/v1/profiles/{profile_id}", {**body, "attributes": {"first_name": "Ada L."}})
    assert (first, second) == (201, 200)
    assert created["attributes"]["birthday"] == "1990-06-15"
    assert updated["attributes"]["first_name"] == "Ada L." and updated["created_at"] == created["created_at"]


def test_getting_a_profile_shows_interests_and_last_activity(resources, profile_id):
    put_profile(profile_id)
    status, body = admin("GET", f"/v1/profiles/{profile_id}")
    assert status == 200
    assert (body["interests"], body["last_activity_at"], body["email"]) == ({}, None, f"{profile_id}@example.net")


def test_an_event_moves_last_activity_and_is_recorded_once_by_its_id(resources, profile_id, clock):
    put_profile(profile_id)
    event = {
        "profile_id": profile_id,
        "type": "purchase",
        "properties": {"total": 42.5, "currency": "EUR"},
        "occurred_at": "2026-03-01T11:00:00Z",
        "event_id": "order-1",
    }
    first = admin("POST", "/v1/events", event)
    again = admin("POST", "/v1/events", event)
    assert first == (202, {"event_id": "order-1", "recorded": True})
    assert again == (202, {"event_id": "order-1", "recorded": False})
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["last_activity_at"] == "2026-03-01T11:00:00Z"


def test_an_older_event_does_not_move_last_activity_backwards(resources, profile_id):
    put_profile(profile_id)
    admin("POST", "/v1/events", {"profile_id": profile_id, "type": "visit", "occurred_at": "2026-03-01T11:00:00Z"})
    status, body = admin(
        "POST", "/v1/events", {"profile_id": profile_id, "type": "visit", "occurred_at": "2026-02-01T11:00:00Z"}
    )
    assert (status, body["recorded"]) == (202, True)
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["last_activity_at"] == "2026-03-01T11:00:00Z"


def test_a_message_request_is_queued_and_sent_through_the_gate(resources, profile_id):
    put_profile(profile_id)
    status, body = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo"})
    assert status == 202 and body["message_id"]
    assert drain_sends(resources) == {"batchItemFailures": []}
    (mail,) = mails_to(profile_id)
    assert mail["message_id"] == body["message_id"] and mail["subject"].startswith("Ada")


def test_a_repeated_message_request_with_an_idempotency_key_sends_once(resources, profile_id):
    put_profile(profile_id)
    request = {"profile_id": profile_id, "template": "birthday", "idempotency_key": "bday-2026"}
    first, again = admin("POST", "/v1/messages", request), admin("POST", "/v1/messages", request)
    assert first == again
    drain_sends(resources)
    assert len(mails_to(profile_id)) == 1


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_calls_without_a_valid_key_get_401(resources, profile_id, key):
    status, body = admin("GET", f"/v1/profiles/{profile_id}", key=key)
    assert (status, body["code"]) == (401, "unauthorized")


@pytest.mark.parametrize(
    "method, path, body, raw, status, code",
    [
        ("PUT", "/v1/profiles/p-x", None, "{not json", 400, "invalid_input"),
        ("PUT", "/v1/profiles/p-x", {"email": "x@example.com", "attributes": "no"}, None, 400, "invalid_input"),
        (
            "PUT",
            "/v1/profiles/p-x",
            None,
            json.dumps({"email": "x@example.com", "attributes": {"n": "x" * 70000}}),
            413,
            "payload_too_large",
        ),
        ("GET", "/v1/profiles/p-nobody-here", None, None, 404, "profile_not_found"),
        ("POST", "/v1/events", {"profile_id": "p-nobody-here", "type": "purchase"}, None, 404, "profile_not_found"),
        (
            "POST",
            "/v1/events",
            {"profile_id": "p-x", "type": "purchase", "occurred_at": "yesterday"},
            None,
            400,
            "invalid_input",
        ),
        (
            "POST",
            "/v1/messages",
            {"profile_id": "p-nobody-here", "template": "birthday"},
            None,
            404,
            "profile_not_found",
        ),
        ("POST", "/v1/messages", {"profile_id": "p-x", "template": "../etc/passwd"}, None, 404, "template_not_found"),
        ("POST", "/v1/messages", {"profile_id": "p-x"}, None, 400, "invalid_input"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_code_and_a_sentence(resources, method, path, body, raw, status, code):
    got_status, got = admin(method, path, body, raw_body=raw)
    assert (got_status, got["code"]) == (status, code)
    assert got["message"].endswith(".") or len(got["message"]) > 10


def test_nothing_is_queued_for_a_refused_message_request(resources):
    admin("POST", "/v1/messages", {"profile_id": "p-nobody-here", "template": "birthday"})
    assert queue_messages(wiring.SEND_QUEUE, resources) == []


def test_a_failing_aws_call_answers_503_and_queues_nothing(resources, profile_id, monkeypatch):
    put_profile(profile_id)

    def unavailable(*args, **kwargs):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessageBatch")

    monkeypatch.setattr(SqsSendQueue, "enqueue", unavailable)
    status, body = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    assert (status, body["code"]) == (503, "dependency_failed")


def test_an_event_retried_later_without_occurred_at_is_recorded_once(resources, profile_id, clock):
    put_profile(profile_id)
    event = {"profile_id": profile_id, "type": "signup", "event_id": "signup-1"}
    first = admin("POST", "/v1/events", event)
    clock.advance(minutes=3)
    again = admin("POST", "/v1/events", event)
    assert (first[1]["recorded"], again[1]["recorded"]) == (True, False)
