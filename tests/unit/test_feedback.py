"""SES feedback rules (closedloop.feedback) with fakes: what a bounce or a complaint does."""

from datetime import UTC, datetime, timedelta

import pytest

from closedloop import feedback
from closedloop.errors import InvalidInput
from tests.fakes import FakeProfiles, FakeSuppressions

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
ADDRESS = "ada@example.net"


def bounce(bounce_type="Permanent", mail_id="ses-1", at=NOW, address="Ada@Example.net"):
    return {
        "eventType": "Bounce",
        "mail": {"messageId": mail_id, "destination": [address], "tags": {"template": ["newsletter-demo"]}},
        "bounce": {
            "bounceType": bounce_type,
            "bouncedRecipients": [{"emailAddress": address, "action": "failed"}],
            "timestamp": at.isoformat().replace("+00:00", "Z"),
        },
    }


def complaint(mail_id="ses-1", address=ADDRESS):
    return {
        "eventType": "Complaint",
        "mail": {"messageId": mail_id, "destination": [address]},
        "complaint": {"complainedRecipients": [{"emailAddress": address}], "timestamp": "2026-03-01T11:59:00Z"},
    }


@pytest.fixture
def stores():
    profiles = FakeProfiles()
    profiles.add("p-ada", email=ADDRESS)
    profiles.claims[ADDRESS] = "p-ada"
    return FakeSuppressions(), profiles


def handle(detail, stores, now=NOW):
    suppressions, profiles = stores
    return feedback.handle(feedback.parse(detail), suppressions, profiles, now)


def test_a_permanent_bounce_suppresses_the_normalised_address_at_once(stores):
    suppressions, profiles = stores
    assert handle(bounce("Permanent"), stores).suppressed == 1
    assert suppressions.get(ADDRESS).to_api() == {"reason": "bounce", "at": "2026-03-01T12:00:00Z"}
    assert profiles.get("p-ada").status == "subscribed"  # a bounce is not the person leaving


def test_three_transient_bounces_within_30_days_suppress_the_address(stores):
    suppressions, _ = stores
    handle(bounce("Transient", "ses-1", NOW), stores)
    handle(bounce("Transient", "ses-2", NOW + timedelta(days=10)), stores)
    assert suppressions.get(ADDRESS) is None
    handle(bounce("Transient", "ses-3", NOW + timedelta(days=29)), stores)
    assert suppressions.get(ADDRESS).reason == "bounce"


def test_two_transient_bounces_do_not_suppress(stores):
    suppressions, _ = stores
    handle(bounce("Transient", "ses-1"), stores)
    handle(bounce("Transient", "ses-2"), stores)
    assert suppressions.get(ADDRESS) is None


def test_transient_bounces_spread_over_more_than_30_days_do_not_suppress(stores):
    suppressions, _ = stores
    for day, mail_id in ((0, "ses-1"), (20, "ses-2"), (31, "ses-3")):
        handle(bounce("Transient", mail_id, NOW + timedelta(days=day)), stores)
    assert suppressions.get(ADDRESS) is None


def test_the_same_bounce_delivered_again_counts_once(stores):
    suppressions, _ = stores
    for _ in range(3):
        handle(bounce("Transient", "ses-1"), stores)
    handle(bounce("Transient", "ses-2"), stores)
    assert suppressions.get(ADDRESS) is None


def test_a_complaint_suppresses_and_unsubscribes_with_source_complaint(stores):
    suppressions, profiles = stores
    handled = handle(complaint(), stores)
    assert (handled.suppressed, handled.unsubscribed) == (1, ["p-ada"])
    assert suppressions.get(ADDRESS).reason == "complaint"
    profile = profiles.get("p-ada")
    assert (profile.status, profile.consent) == ("unsubscribed", {"source": "complaint", "at": "2026-03-01T12:00:00Z"})


def test_the_first_cause_of_a_suppression_stands(stores):
    suppressions, profiles = stores
    handle(bounce("Permanent"), stores)
    handle(complaint(), stores, now=NOW + timedelta(hours=1))
    assert suppressions.get(ADDRESS).to_api() == {"reason": "bounce", "at": "2026-03-01T12:00:00Z"}
    assert profiles.get("p-ada").status == "unsubscribed"  # the complaint still withdraws consent


def test_a_complaint_about_an_address_no_profile_holds_only_suppresses(stores):
    suppressions, _ = stores
    assert handle(complaint(address="gone@example.net"), stores).unsubscribed == []
    assert suppressions.get("gone@example.net").reason == "complaint"


@pytest.mark.parametrize("event_type", ["Delivery", "Reject", "DeliveryDelay", "Send"])
def test_other_events_change_nothing(stores, event_type):
    suppressions, profiles = stores
    detail = {**complaint(), "eventType": event_type}
    assert handle(detail, stores).kind == "ignored"
    assert (suppressions.items, profiles.get("p-ada").status) == ({}, "subscribed")


def test_a_recipient_with_a_display_name_or_no_valid_address_is_handled_by_its_address_only(stores):
    suppressions, _ = stores
    detail = bounce()
    detail["bounce"]["bouncedRecipients"] = [{"emailAddress": "Ada <ADA@example.net>"}, {"emailAddress": "nonsense"}]
    handle(detail, stores)
    assert list(suppressions.items) == [ADDRESS]


def test_an_event_without_mail_is_refused():
    with pytest.raises(InvalidInput):
        feedback.parse({"eventType": "Bounce"})
