"""Bounces and complaints over HTTP on the local runtime: SES's feedback events reach the feedback function through
the default bus, exactly as in the cloud, and the gate refuses the suppressed address afterwards."""

from __future__ import annotations

from closedloop_local.client import LocalClient


def sent_mail(client: LocalClient, profile_id: str, address: str, key: str) -> dict:
    client.put_profile(profile_id, address, first_name="Ada")
    message_id = client.send(profile_id, "birthday", key)["message_id"]
    client.drain()
    (mail,) = [m for m in client.outbox(to=address) if m["message_id"] == message_id]
    return mail


def ses_event(client: LocalClient, message_id: str, kind: str, bounce_type: str | None = None) -> None:
    body = {"message_id": message_id, "type": kind, **({"bounce_type": bounce_type} if bounce_type else {})}
    assert client.request("POST", "/_local/ses-events", body, auth=False).status == 202
    client.drain()


def test_a_complaint_suppresses_the_address_and_unsubscribes_the_person(client: LocalClient):
    mail = sent_mail(client, "p-complains", "complains@example.net", "first")
    ses_event(client, mail["message_id"], "Complaint")
    profile = client.profile("p-complains")
    assert (profile["status"], profile["consent"]["source"]) == ("unsubscribed", "complaint")
    assert profile["suppression"]["reason"] == "complaint"
    refused = client.request("POST", "/v1/messages", {"profile_id": "p-complains", "template": "birthday"})
    assert (refused.status, refused.json()["code"]) == (409, "not_subscribed")
    assert client.ok("GET", "/v1/suppressions/complains@example.net")["reason"] == "complaint"


def test_after_a_permanent_bounce_the_next_send_is_refused_and_recorded(client: LocalClient):
    mail = sent_mail(client, "p-bounces", "bounces@example.net", "first")
    ses_event(client, mail["message_id"], "Bounce", "Permanent")
    profile = client.profile("p-bounces")
    assert (profile["status"], profile["suppression"]["reason"]) == ("subscribed", "bounce")
    message_id = client.send("p-bounces", "birthday", "second")["message_id"]
    client.drain()
    status = client.ok("GET", f"/v1/messages/{message_id}")
    assert (status["state"], status["reason"]) == ("skipped", "suppressed")
    assert len(client.outbox(to="bounces@example.net")) == 1
    # Lifted by hand, the address gets mail again.
    assert client.request("DELETE", "/v1/suppressions/bounces@example.net").status == 204
    client.send("p-bounces", "birthday", "third")
    client.drain()
    assert len(client.outbox(to="bounces@example.net")) == 2


def test_a_delivery_or_a_single_transient_bounce_suppresses_nothing(client: LocalClient):
    mail = sent_mail(client, "p-delivered", "delivered@example.net", "first")
    ses_event(client, mail["message_id"], "Delivery")
    ses_event(client, mail["message_id"], "Bounce", "Transient")
    assert client.profile("p-delivered")["suppression"] is None


def test_mail_to_the_bounce_simulator_suppresses_that_address_by_itself(client: LocalClient):
    sent_mail(client, "p-simulated", "bounce@simulator.amazonses.com", "first")
    client.drain()  # SES's event, then the feedback function
    assert client.ok("GET", "/v1/suppressions/bounce@simulator.amazonses.com")["reason"] == "bounce"
    assert client.profile("p-simulated")["suppression"]["reason"] == "bounce"
    assert client.dead_letters() == []


def test_an_ses_event_for_an_unknown_message_or_of_an_unknown_type_is_refused(client: LocalClient):
    unknown = client.request("POST", "/_local/ses-events", {"message_id": "nope", "type": "Bounce"}, auth=False)
    assert (unknown.status, unknown.json()["code"]) == (404, "message_not_found")
    bad = client.request("POST", "/_local/ses-events", {"message_id": "nope", "type": "Open"}, auth=False)
    assert (bad.status, bad.json()["code"]) == (400, "invalid_input")
