"""GDPR against moto: the export lists everything stored about a person; DELETE leaves only the erased hash."""

import json
import re
from urllib.parse import quote

import boto3
import pytest

from closedloop import services
from infra import wiring
from tests.integration.conftest import (
    BASE_URL,
    admin,
    deliver_clicks,
    drain_sends,
    invoke,
    mails_to,
    put_profile,
    queue_messages,
    tracked_links,
    tracking,
)
from tests.integration.test_sending_pause import release
from tests.integration.test_suppression import ses_event


def history(profile_id: str, resources) -> dict:
    """A person with a bit of everything: a newsletter they clicked and opened, a purchase, a transient bounce,
    a threshold claim and a mail held by a sending pause."""
    put_profile(profile_id, city="<b>Leeds</b>")
    _, sent = admin(
        "POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo", "idempotency_key": "n1"}
    )
    drain_sends(resources)
    (mail,) = mails_to(profile_id)
    assert tracking(wiring.CLICK, "GET", tracked_links(mail)[0])["statusCode"] == 302
    deliver_clicks(resources, services.clock())  # stored, and settled as a person's
    pixel = re.search(rf"{re.escape(BASE_URL)}/o/([A-Za-z0-9._:-]+)", mail["html"]).group(1)
    tracking(wiring.OPEN, "GET", pixel)
    event = {"profile_id": profile_id, "type": "purchase", "event_id": f"order-{profile_id}"}
    assert admin("POST", "/v1/events", {**event, "properties": {"total": 20, "currency": "EUR"}})[0] == 202
    invoke(wiring.FEEDBACK, ses_event(f"{profile_id}@example.net", "Transient"))
    services.ledger().claim_threshold("travel-offers", profile_id, services.clock().now())
    admin("POST", "/v1/sending/pause", {"reason": "gdpr test"})
    try:
        _, held = admin(
            "POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo", "idempotency_key": "n2"}
        )
        drain_sends(resources)
    finally:
        admin("POST", "/v1/sending/resume")
        queue_messages(wiring.RELEASE_QUEUE, resources)  # the release would send it: this person stays held
    return {"sent": sent["message_id"], "held": held["message_id"]}


def test_the_export_lists_profile_consent_activities_sends_held_mail_and_suppression(resources, profile_id):
    ids = history(profile_id, resources)
    admin("PUT", f"/v1/suppressions/{profile_id}@example.net", {"reason": "manual"})
    status, exported = admin("GET", f"/v1/profiles/{profile_id}/export")
    assert status == 200
    assert exported["profile"]["attributes"]["city"] == "<b>Leeds</b>"  # stored inert, returned as it came
    assert (exported["consent"]["source"], exported["profile"]["purchase_count"]) == ("api", 1)
    assert exported["suppression"]["reason"] == "manual"
    assert exported["email_claim"] == {"email": f"{profile_id}@example.net"}
    assert [len(exported[kind]) for kind in ("clicks", "opens", "events")] == [1, 1, 1]
    assert exported["events"][0]["id"] == f"order-{profile_id}"
    assert exported["clicks"][0]["details"]["message_id"] == ids["sent"]
    sends = {s["message_id"]: s for s in exported["sends"]}
    assert (sends[ids["sent"]]["state"], sends[ids["sent"]]["send_key"]) == ("sent", f"api#n1#{profile_id}")
    assert sends[ids["held"]]["state"] == "held"
    assert [h["message_id"] for h in exported["held"]] == [ids["held"]]
    assert [t["rule"] for t in exported["thresholds"]] == ["travel-offers"]
    assert len(exported["bounces"][0]["transient_bounces"]) == 1
    admin("DELETE", f"/v1/profiles/{profile_id}")


def scan_everything(resources) -> list[dict]:
    dynamodb = boto3.client("dynamodb")
    items = []
    for table in resources.tables.values():
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items += [{"table": table, **item} for item in page["Items"]]
    return items


def test_delete_leaves_nothing_in_any_table_but_the_erased_hash(resources, profile_id):
    history(profile_id, resources)
    address = f"{profile_id}@example.net"
    admin("PUT", f"/v1/suppressions/{address}", {"reason": "manual"})
    assert [i for i in scan_everything(resources) if profile_id in json.dumps(i)]  # there is something to erase

    status, body = admin("DELETE", f"/v1/profiles/{profile_id}")
    assert (status, body) == (204, None)
    left = [i for i in scan_everything(resources) if profile_id in json.dumps(i).lower()]
    assert left == []
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["code"] == "profile_not_found"
    assert admin("GET", f"/v1/suppressions/{quote(address)}")[1]["reason"] == "erased"
    status, again = admin("DELETE", f"/v1/profiles/{profile_id}")
    assert (status, again["code"]) == (404, "profile_not_found")


def test_an_erased_person_re_imported_under_a_new_id_is_not_mailed(resources, profile_id):
    put_profile(profile_id)
    assert admin("DELETE", f"/v1/profiles/{profile_id}")[0] == 204
    again = f"{profile_id}-again"
    status, profile = admin(
        "PUT", f"/v1/profiles/{again}", {"email": f"{profile_id}@example.net", "status": "subscribed"}
    )
    assert status == 201 and admin("GET", f"/v1/profiles/{again}")[1]["suppression"]["reason"] == "erased"
    _, queued = admin("POST", "/v1/messages", {"profile_id": again, "template": "newsletter-demo"})
    drain_sends(resources)
    assert mails_to(profile_id) == []
    skipped = admin("GET", f"/v1/messages/{queued['message_id']}")[1]
    assert (skipped["state"], skipped["reason"]) == ("skipped", "suppressed")


@pytest.mark.parametrize("method, suffix", [("GET", "/export"), ("DELETE", "")])
def test_an_unknown_or_malformed_profile_id_answers_with_a_code(resources, method, suffix):
    status, body = admin(method, f"/v1/profiles/p-nobody-here{suffix}")
    assert (status, body["code"]) == (404, "profile_not_found")
    status, body = admin(method, f"/v1/profiles/a%20b{suffix}")
    assert (status, body["code"]) == (400, "invalid_input")


def test_a_released_backlog_of_an_erased_person_sends_nothing(resources, profile_id):
    put_profile(profile_id)
    admin("POST", "/v1/sending/pause", {"reason": "gdpr test"})
    try:
        admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo"})
        drain_sends(resources)
        assert admin("DELETE", f"/v1/profiles/{profile_id}")[0] == 204
    finally:
        admin("POST", "/v1/sending/resume")
    release(resources)
    drain_sends(resources)
    assert mails_to(profile_id) == []
