"""Bounces, complaints and the suppression list: the feedback function with SES-shaped events, the gate, the API."""

import copy
import uuid

import pytest

from infra import wiring
from tests.integration.conftest import admin, drain_sends, invoke, mails_to, put_profile

# An SES configuration-set event as EventBridge delivers it (AWS docs: "Examples of event data that Amazon SES
# publishes", wrapped in the EventBridge envelope of source aws.ses).
BOUNCE_EVENT = {
    "version": "0",
    "id": "f6f41bb1-4d73-4e2c-a2e5-3b0f4c7e4a11",
    "detail-type": "Email Bounced",
    "source": "aws.ses",
    "account": "123456789012",
    "time": "2026-03-01T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:ses:us-east-1:123456789012:configuration-set/closedloop"],
    "detail": {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "RECIPIENT",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2026-03-01T11:59:30.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "reportingMTA": "dsn; mta.example.com",
        },
        "mail": {
            "timestamp": "2026-03-01T11:59:02.012Z",
            "source": "closedloop <newsletter@example.com>",
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/newsletter@example.com",
            "sendingAccountId": "123456789012",
            "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            "destination": ["RECIPIENT"],
            "headersTruncated": False,
            "tags": {"ses:configuration-set": ["closedloop"], "template": ["newsletter-demo"]},
        },
    },
}


def ses_event(address: str, kind: str = "Permanent", mail_id: str | None = None) -> dict:
    event = copy.deepcopy(BOUNCE_EVENT)
    detail = event["detail"]
    detail["mail"]["destination"] = [address]
    detail["mail"]["messageId"] = mail_id or f"ses-{uuid.uuid4().hex}"
    if kind == "Complaint":
        event["detail-type"] = "Email Complaint Received"
        detail["eventType"] = "Complaint"
        del detail["bounce"]
        detail["complaint"] = {
            "complainedRecipients": [{"emailAddress": address}],
            "timestamp": "2026-03-01T11:59:40.000Z",
            "feedbackId": "0100015f-complaint-000000",
            "complaintFeedbackType": "abuse",
        }
    else:
        detail["bounce"]["bounceType"] = kind
        detail["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    return event


def test_a_complaint_suppresses_the_address_and_unsubscribes_the_profile_for_good(resources, profile_id):
    put_profile(profile_id)
    # SES reports the recipient as it was sent; the profile holds it normalised.
    handled = invoke(wiring.FEEDBACK, ses_event(f"{profile_id.upper()}@Example.NET", "Complaint"))
    assert handled == {"kind": "complaint", "suppressed": 1, "unsubscribed": [profile_id]}
    status, profile = admin("GET", f"/v1/profiles/{profile_id}")
    assert (profile["status"], profile["consent"]["source"]) == ("unsubscribed", "complaint")
    assert profile["suppression"] == {"reason": "complaint", "at": "2026-03-01T12:00:00Z"}
    refused, body = admin("PUT", f"/v1/profiles/{profile_id}", {"status": "subscribed"})
    assert (refused, body["code"]) == (409, "consent_withdrawn")


def test_three_transient_bounces_suppress_and_a_redelivered_one_counts_once(resources, profile_id):
    put_profile(profile_id)
    address = f"{profile_id}@example.net"
    invoke(wiring.FEEDBACK, ses_event(address, "Transient", mail_id="ses-a"))
    invoke(wiring.FEEDBACK, ses_event(address, "Transient", mail_id="ses-a"))  # EventBridge delivers again
    invoke(wiring.FEEDBACK, ses_event(address, "Transient", mail_id="ses-b"))
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["suppression"] is None
    invoke(wiring.FEEDBACK, ses_event(address, "Transient", mail_id="ses-c"))
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["suppression"]["reason"] == "bounce"


def test_a_delivery_changes_nothing(resources, profile_id):
    put_profile(profile_id)
    event = ses_event(f"{profile_id}@example.net")
    event["detail-type"], event["detail"]["eventType"] = "Email Delivered", "Delivery"
    assert invoke(wiring.FEEDBACK, event)["kind"] == "ignored"
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["suppression"] is None


def test_the_gate_skips_a_bounced_address_and_records_why(resources, profile_id):
    put_profile(profile_id)
    invoke(wiring.FEEDBACK, ses_event(f"{profile_id}@example.net", "Permanent"))
    status, queued = admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    assert status == 202
    assert drain_sends(resources) == {"batchItemFailures": []}
    message = admin("GET", f"/v1/messages/{queued['message_id']}")[1]
    assert (message["state"], message["reason"]) == ("skipped", "suppressed")
    assert mails_to(profile_id) == []


def test_suppressions_are_managed_by_hand(resources, profile_id):
    path = f"/v1/suppressions/{profile_id}@Example.net"
    assert admin("GET", path) == (404, {"code": "suppression_not_found", "message": "this address is not suppressed"})
    status, entry = admin("PUT", path)
    assert (status, entry) == (200, {"reason": "manual", "at": "2026-03-01T12:00:00Z"})
    assert admin("GET", f"/v1/suppressions/{profile_id}%40example.net") == (200, entry)
    assert admin("PUT", path, {"reason": "complaint"})[1]["reason"] == "complaint"
    assert admin("DELETE", path) == (204, None)
    assert admin("DELETE", path)[0] == 404
    assert admin("GET", path)[0] == 404


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/suppressions/not-an-address", None),
        ("PUT", "/v1/suppressions/a@b@example.com", None),
        ("PUT", "/v1/suppressions/ada@example.com", {"reason": "erased-by-whim"}),
        ("PUT", "/v1/suppressions/ada@example.com", {"why": "manual"}),
        ("DELETE", "/v1/suppressions/ada%20@example.com", None),
    ],
)
def test_a_bad_address_or_body_is_refused(resources, method, path, body):
    status, answer = admin(method, path, body)
    assert (status, answer["code"]) == (400, "invalid_input")


def test_suppressions_need_the_api_key(resources):
    assert admin("GET", "/v1/suppressions/ada@example.com", key="wrong")[0] == 401
