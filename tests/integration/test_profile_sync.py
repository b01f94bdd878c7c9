"""A CRM sync never re-subscribes someone who left, and never wipes attributes it did not send."""

from infra import wiring
from tests.integration.conftest import admin, drain_sends, mails_to, put_profile, tracking


def unsubscribe_by_link(resources, profile_id: str) -> None:
    admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    drain_sends(resources)
    token = mails_to(profile_id)[-1]["headers"]["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    assert tracking(wiring.UNSUBSCRIBE, "POST", token)["statusCode"] == 200


def test_a_sync_without_status_after_a_one_click_unsubscribe_keeps_the_person_unsubscribed(resources, profile_id):
    put_profile(profile_id, city="London")
    unsubscribe_by_link(resources, profile_id)
    status, body = admin("PUT", f"/v1/profiles/{profile_id}", {"email": f"{profile_id}@example.net"})
    assert (status, body["status"], body["attributes"]["city"]) == (200, "unsubscribed", "London")


def test_a_profile_created_without_a_status_is_pending_and_gets_no_mail(resources, profile_id):
    status, body = admin("PUT", f"/v1/profiles/{profile_id}", {"email": f"{profile_id}@example.com"})
    assert (status, body["status"]) == (201, "pending")
    refused = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    assert (refused[0], refused[1]["code"]) == (409, "not_subscribed")


def test_attributes_are_merged_and_null_deletes_one(resources, profile_id):
    put_profile(profile_id, city="London", plan="gold")
    _, body = admin("PUT", f"/v1/profiles/{profile_id}", {"attributes": {"city": None, "plan": "platinum"}})
    assert body["attributes"] == {"first_name": "Ada", "plan": "platinum"}
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["attributes"] == body["attributes"]


def test_an_unsubscribe_just_before_a_queued_send_stops_it(resources, profile_id):
    put_profile(profile_id)
    status, queued = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    assert status == 202
    admin("PUT", f"/v1/profiles/{profile_id}", {"status": "unsubscribed"})
    drain_sends(resources)
    assert mails_to(profile_id) == []
    _, outcome = admin("GET", f"/v1/messages/{queued['message_id']}")
    assert (outcome["state"], outcome["reason"]) == ("skipped", "no_consent")
