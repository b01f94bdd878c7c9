"""The sending pause and GDPR over HTTP on the local runtime: the routes, the held mail, the alarm, the erasure."""

from __future__ import annotations

from closedloop_local.client import LocalClient


def test_paused_mail_is_held_then_sent_once_after_resume(client: LocalClient):
    client.put_profile("p-pause", "pause@example.net", first_name="Ada")
    paused = client.ok("POST", "/v1/sending/pause", {"reason": "list cleanup"})
    assert (paused["paused"], paused["reason"], paused["held"]) == (True, "list cleanup", 0)
    message_id = client.send("p-pause", "birthday", "held-1")["message_id"]
    client.drain()
    held = client.ok("GET", f"/v1/messages/{message_id}")
    assert (held["state"], held["reason"]) == ("held", "sending_paused")
    assert client.outbox(to="pause@example.net") == []
    assert client.ok("GET", "/v1/sending")["held"] == 1

    resumed = client.ok("POST", "/v1/sending/resume")
    assert (resumed["paused"], resumed["reason"], resumed["since"]) == (False, None, None)
    client.drain()  # the release job, then the released mail through the gate
    assert client.ok("GET", f"/v1/messages/{message_id}")["state"] == "sent"
    assert len(client.outbox(to="pause@example.net")) == 1
    assert client.ok("GET", "/v1/sending") == {"paused": False, "reason": None, "since": None, "held": 0}


def test_the_bounce_rate_alarm_pauses_sending_by_itself(client: LocalClient):
    answer = client.request("POST", "/_local/alarms", {"metric": "Reputation.BounceRate"}, auth=False)
    assert answer.status == 202
    client.drain()
    state = client.ok("GET", "/v1/sending")
    assert (state["paused"], state["reason"]) == (True, "bounce rate alarm")
    client.ok("POST", "/v1/sending/resume")
    client.drain()
    bad = client.request("POST", "/_local/alarms", {"metric": "CPUUtilization"}, auth=False)
    assert (bad.status, bad.json()["code"]) == (400, "invalid_input")


def test_bad_pause_bodies_are_refused_with_a_code(client: LocalClient):
    malformed = client.request("POST", "/v1/sending/pause", b'{"reason": ')
    assert (malformed.status, malformed.json()["code"]) == (400, "invalid_input")
    huge = client.request("POST", "/v1/sending/pause", {"reason": "x" * 70_000})
    assert (huge.status, huge.json()["code"]) == (413, "payload_too_large")
    assert client.ok("GET", "/v1/sending")["paused"] is False
    unauthenticated = client.request("POST", "/v1/sending/pause", {}, auth=False)
    assert unauthenticated.status == 401


def test_export_then_erase_then_a_re_import_is_not_mailed(client: LocalClient):
    client.put_profile("p-gdpr", "gdpr@example.net", first_name="<script>alert(1)</script>")
    client.send("p-gdpr", "birthday", "before")
    client.drain()
    exported = client.ok("GET", "/v1/profiles/p-gdpr/export")
    assert exported["profile"]["attributes"]["first_name"] == "<script>alert(1)</script>"
    assert [s["state"] for s in exported["sends"]] == ["sent"]
    assert exported["consent"]["source"] == "api" and exported["suppression"] is None

    erased = client.request("DELETE", "/v1/profiles/p-gdpr")
    assert (erased.status, erased.body) == (204, b"")
    gone = client.request("GET", "/v1/profiles/p-gdpr")
    assert (gone.status, gone.json()["code"]) == (404, "profile_not_found")
    assert client.ok("GET", "/v1/suppressions/gdpr@example.net")["reason"] == "erased"

    client.put_profile("p-gdpr-2", "gdpr@example.net")
    message_id = client.send("p-gdpr-2", "birthday", "after")["message_id"]
    client.drain()
    assert client.ok("GET", f"/v1/messages/{message_id}")["reason"] == "suppressed"
    assert len(client.outbox(to="gdpr@example.net")) == 1


def test_unknown_profiles_answer_404_with_a_code(client: LocalClient):
    for method, path in (("GET", "/v1/profiles/p-nobody/export"), ("DELETE", "/v1/profiles/p-nobody")):
        answer = client.request(method, path)
        assert (answer.status, answer.json()["code"]) == (404, "profile_not_found")
