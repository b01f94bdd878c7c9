"""Quiet hours over HTTP on the local runtime: a capped message waits for the recipient's morning, durably, and
arrives when the runtime clock gets there (the deferrals tick for a night, SQS's delay for a few minutes)."""

from __future__ import annotations

import pytest

from closedloop_local.client import LocalClient

pytestmark = pytest.mark.e2e


def capped_message(client: LocalClient, profile_id: str, key: str) -> str:
    body = {"profile_id": profile_id, "template": "newsletter-demo", "idempotency_key": key, "capped": True}
    return client.ok("POST", "/v1/messages", body)["message_id"]


def test_a_capped_message_sent_in_tokyos_night_arrives_after_eight_there(client: LocalClient):
    client.put_profile("p-e2e-tokyo", "e2e-tokyo@example.net", first_name="Aiko", timezone="Asia/Tokyo")
    client.set_clock("2026-05-12T13:30:00Z")  # 22:30 in Tokyo
    message_id = capped_message(client, "p-e2e-tokyo", "night")
    client.drain()
    status = client.ok("GET", f"/v1/messages/{message_id}")
    assert (status["state"], status["reason"], status["deferred_until"]) == (
        "deferred",
        "quiet_hours",
        "2026-05-12T23:00:00Z",
    )
    client.run_schedule("deferrals")
    client.drain()
    assert client.outbox(to="e2e-tokyo@example.net") == []

    client.set_clock("2026-05-12T23:00:00Z")  # 08:00 in Tokyo
    client.run_schedule("deferrals")
    client.drain()
    (mail,) = client.outbox(to="e2e-tokyo@example.net")
    assert "Aiko" in mail["subject"]
    assert client.ok("GET", f"/v1/messages/{message_id}")["state"] == "sent"
    client.run_schedule("deferrals")  # nothing is left to deliver twice
    client.drain()
    assert len(client.outbox(to="e2e-tokyo@example.net")) == 1


def test_a_wait_of_minutes_rides_the_send_queues_delay_and_transactional_mail_never_waits(client: LocalClient):
    client.put_profile("p-e2e-la", "e2e-la@example.net", first_name="Lee", timezone="America/Los_Angeles")
    client.set_clock("2026-05-12T14:55:00Z")  # 07:55 in Los Angeles (PDT)
    waiting = capped_message(client, "p-e2e-la", "morning")
    body = {"profile_id": "p-e2e-la", "template": "newsletter-demo", "capped": True, "transactional": True}
    at_once = client.ok("POST", "/v1/messages", body)["message_id"]
    client.drain()
    assert client.ok("GET", f"/v1/messages/{at_once}")["state"] == "sent"
    assert client.ok("GET", f"/v1/messages/{waiting}")["deferred_until"] == "2026-05-12T15:00:00Z"
    client.advance(300)
    client.drain()
    assert client.ok("GET", f"/v1/messages/{waiting}")["state"] == "sent"
    assert len(client.outbox(to="e2e-la@example.net")) == 2
