"""One profile per address, claimed atomically; consent that the person withdrew stays withdrawn."""

from urllib.parse import quote

from infra import wiring
from tests.integration.conftest import admin, drain_sends, mails_to, put_profile, tracking


def test_an_address_another_profile_holds_answers_409_and_creates_nothing(resources, profile_id):
    put_profile(profile_id)
    status, body = admin("PUT", f"/v1/profiles/{profile_id}-twin", {"email": f" {profile_id.upper()}@Example.NET "})
    assert (status, body["code"]) == (409, "email_taken")
    assert admin("GET", f"/v1/profiles/{profile_id}-twin")[0] == 404


def test_a_profile_is_found_by_its_address_however_it_is_spelled(resources, profile_id):
    put_profile(profile_id)
    address = quote(f"  {profile_id.upper()}@EXAMPLE.net ")
    status, body = admin("GET", f"/v1/profiles?email={address}")
    assert (status, body["profile_id"], body["email"]) == (200, profile_id, f"{profile_id}@example.net")
    assert admin("GET", "/v1/profiles?email=nobody-at-all%40example.net")[1]["code"] == "profile_not_found"
    assert admin("GET", "/v1/profiles?email=not-an-address")[1]["code"] == "invalid_input"
    assert admin("GET", "/v1/profiles")[1]["code"] == "invalid_input"


def test_a_changed_address_frees_the_old_one(resources, profile_id):
    put_profile(profile_id)
    admin("PUT", f"/v1/profiles/{profile_id}", {"email": f"{profile_id}.new@example.net"})
    status, _ = admin("PUT", f"/v1/profiles/{profile_id}-2", {"email": f"{profile_id}@example.net"})
    assert status == 201
    assert admin("GET", f"/v1/profiles?email={profile_id}.new%40example.net")[1]["profile_id"] == profile_id


def test_the_profile_shows_how_and_when_its_status_was_reached(resources, profile_id, clock):
    put_profile(profile_id)
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["consent"] == {"source": "api", "at": "2026-03-01T12:00:00Z"}
    clock.advance(hours=1)
    unsubscribe_by_link(resources, profile_id)
    consent = admin("GET", f"/v1/profiles/{profile_id}")[1]["consent"]
    assert consent == {"source": "unsubscribe_link", "at": "2026-03-01T13:00:00Z"}


def test_an_integrator_cannot_resubscribe_someone_who_left_by_link(resources, profile_id):
    put_profile(profile_id)
    unsubscribe_by_link(resources, profile_id)
    status, body = admin("PUT", f"/v1/profiles/{profile_id}", {"status": "subscribed"})
    assert (status, body["code"]) == (409, "consent_withdrawn") and "double opt-in" in body["message"]
    synced, profile = admin("PUT", f"/v1/profiles/{profile_id}", {"attributes": {"city": "Leeds"}})
    assert (synced, profile["status"], profile["attributes"]["city"]) == (200, "unsubscribed", "Leeds")


def test_an_unsubscribe_made_by_the_integrator_can_be_undone_by_the_integrator(resources, profile_id):
    put_profile(profile_id)
    admin("PUT", f"/v1/profiles/{profile_id}", {"status": "unsubscribed"})
    status, body = admin("PUT", f"/v1/profiles/{profile_id}", {"status": "subscribed"})
    assert (status, body["status"], body["consent"]["source"]) == (200, "subscribed", "api")


def unsubscribe_by_link(resources, profile_id: str) -> None:
    admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    drain_sends(resources)
    token = mails_to(profile_id)[-1]["headers"]["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    assert tracking(wiring.UNSUBSCRIBE, "POST", token)["statusCode"] == 200
