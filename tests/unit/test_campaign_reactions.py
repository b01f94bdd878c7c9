"""A campaign's opens, clicks, unsubscribes, SES feedback and conversions: each counted once, where it happens."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from closedloop import campaign_stats, consent, conversions, tracking
from closedloop.conversions import Touch
from closedloop.tokens import ClickToken, MessageToken
from closedloop.values import CampaignRef, Link
from tests.fakes import FakeCampaignReach, FakeCampaignStats, FakeProfiles, FakeReactionQueue

REF = CampaignRef("c1", "main", "a")
SENT_AT = datetime(2026, 11, 20, 9, tzinfo=UTC)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


@pytest.fixture
def profiles():
    profiles = FakeProfiles()
    profiles.add("p-ada")
    return profiles


def counters(stats, stage="main", variant="a"):
    """The counters of a stage's variant (or of the stage, variant None)."""
    entry = stats.summary("c1")["stages"][stage]
    return entry["variants"][variant] if variant else entry["total"]


def an_open(now, ref=REF, bot=None):
    return tracking.open_activity(MessageToken("m1", "p-ada", ref), now, bot)


def a_click(now, url="https://example.com/trip?u=p-ada", ref=REF, bot=None, link_no=0):
    click = tracking.ResolvedClick(ClickToken("m1", "p-ada", "set1", link_no), Link(url, {}), ref)
    return tracking.click_activity(click, now, bot)


def settle(activity, profiles, config, stats=None, reach=None):
    """What the reactions function does with a click: store it, then settle it (the campaign's part after)."""
    tracking.record_click(activity, profiles, config, FakeReactionQueue())

    def on_human(a):
        conversions.after_human_click(a, stats or FakeCampaignStats(), reach or FakeCampaignReach())

    return tracking.settle_click(activity, profiles, config, on_human=on_human)


def test_a_persons_open_counts_once_and_moves_last_opened_at_forward_only(profiles, config, now):
    tracking.record(an_open(now), profiles, config)
    tracking.record(an_open(now), profiles, config)  # the pixel loaded again
    other = tracking.open_activity(MessageToken("m0", "p-ada", REF), now - timedelta(days=1))
    tracking.record(other, profiles, config)  # an older mail's open, recorded late: last_opened_at stays
    assert counters(profiles.stats)["opens_unique"] == 2  # one per message (stage) and person
    assert profiles.get("p-ada").last_opened_at == "2026-11-22T10:00:00Z"
    assert profiles.get("p-ada").last_activity_at is None  # opens are not activity


def test_a_machines_open_counts_nothing(profiles, config, now):
    tracking.record(an_open(now, bot="head"), profiles, config)
    assert profiles.stats.shards == {}
    assert profiles.get("p-ada").last_opened_at is None


def test_a_persons_click_counts_once_by_link_and_marks_the_profile(profiles, config, now):
    stats = FakeCampaignStats()
    assert settle(a_click(now), profiles, config, stats) == "human"
    assert settle(a_click(now + timedelta(minutes=5)), profiles, config, stats) == "human"
    variant = counters(profiles.stats)
    assert (variant["clicks_human"], variant["links"]) == (2, {"https://example.com/trip": 2})
    assert counters(stats)["clicks_human_unique"] == 1  # once per stage and person
    profile = profiles.get("p-ada")
    assert profile.clicked_campaigns == ["c1"]
    assert profile.last_clicked_at == profile.last_activity_at == "2026-11-22T10:05:00Z"


def test_a_settle_step_delivered_twice_counts_the_click_once(profiles, config, now):
    click = a_click(now)
    settle(click, profiles, config)
    assert tracking.settle_click(click, profiles, config) == "settled_before"
    assert counters(profiles.stats)["clicks_human"] == 1


def test_machines_clicks_count_as_bots_at_the_door_and_after_the_settle_window(profiles, config, now):
    settle(a_click(now, bot="honeypot"), profiles, config)
    burst = [a_click(now + timedelta(minutes=1, seconds=n), link_no=n) for n in range(3)]
    for click in burst:
        tracking.record_click(click, profiles, config, FakeReactionQueue())
    assert [tracking.settle_click(click, profiles, config) for click in burst] == ["bot_burst"] * 3
    variant = counters(profiles.stats)
    assert (variant["clicks_bot"], variant["clicks_human"]) == (4, 0)
    assert profiles.get("p-ada").clicked_campaigns == []


def test_an_older_click_marks_last_clicked_at_without_rewinding_last_activity(profiles, config, now):
    profiles.items["p-ada"]["last_activity_at"] = "2026-11-23T00:00:00Z"  # a later event
    settle(a_click(now), profiles, config)
    profile = profiles.get("p-ada")
    assert (profile.last_activity_at, profile.last_clicked_at) == ("2026-11-23T00:00:00Z", "2026-11-22T10:00:00Z")


def campaign(goal, started=SENT_AT, **definition):
    """A stored campaign as DynamoCampaignReach reads it."""
    started_at = started.isoformat().replace("+00:00", "Z") if started else None
    return {"definition": {"goal": goal, **definition}, "started_at": started_at}


def test_a_click_goal_converts_once_within_the_window(profiles, config, now):
    stats, reach = FakeCampaignStats(), FakeCampaignReach()
    reach.campaigns["c1"] = campaign({"click": True})
    settle(a_click(now), profiles, config, stats, reach)
    settle(a_click(now + timedelta(minutes=1)), profiles, config, stats, reach)
    assert counters(stats)["conversions"] == 1
    assert stats.converted == {"converted#c1#p-ada": "p-ada"}


def test_a_click_after_the_window_does_not_convert(profiles, config, now):
    stats, reach = FakeCampaignStats(), FakeCampaignReach()
    reach.campaigns["c1"] = campaign({"click": True}, started=now - timedelta(days=30), stages=[{"after": "3d"}])
    settle(a_click(now), profiles, config, stats, reach)
    assert stats.converted == {}


def test_the_window_closes_a_week_after_the_last_planned_send():
    goal = conversions.goal_of(campaign({"event": "purchase"}, ab={"wait": "4h"}, stages=[{"after": "3d"}]))
    assert (goal.event, goal.until) == ("purchase", SENT_AT + timedelta(days=10))
    assert conversions.goal_of(campaign({"click": True}, started=None)).within(SENT_AT) is False  # not sent yet
    assert conversions.goal_of({"definition": {}}) is None


def purchase(at, total=49.9, currency="EUR", kind="purchase"):
    properties = {"order_id": "o1", "total": total, "currency": currency}
    return {"event_id": "e1", "type": kind, "profile_id": "p-ada", "occurred_at": at, "properties": properties}


@pytest.fixture
def reach():
    reach = FakeCampaignReach()
    reach.campaigns["c1"] = campaign({"event": "purchase"}, stages=[{"id": "reminder", "after": "3d"}])
    reach.sent["p-ada"] = [
        Touch("c1", "main", "a", SENT_AT),
        Touch("c1", "reminder", None, SENT_AT + timedelta(days=3)),
    ]
    return reach


def test_an_event_goal_converts_once_with_its_revenue_under_the_latest_mail_before_it(reach):
    stats = FakeCampaignStats()
    assert conversions.after_event(purchase("2026-11-24T12:00:00Z"), stats, reach) == ["c1"]
    assert conversions.after_event(purchase("2026-11-24T12:00:00Z"), stats, reach) == []  # redelivered
    assert conversions.after_event(purchase("2026-11-25T12:00:00Z", 10), stats, reach) == []  # a second purchase
    reminder = stats.summary("c1")["stages"]["reminder"]["total"]
    assert (reminder["conversions"], reminder["revenue"]) == (1, {"EUR": 49.9})
    assert "main" not in stats.summary("c1")["stages"]  # counted under the reminder, the latest mail before it


def test_an_event_of_another_type_before_the_send_or_after_the_window_converts_nothing(reach):
    stats = FakeCampaignStats()
    conversions.after_event(purchase("2026-11-21T12:00:00Z", kind="visit"), stats, reach)
    conversions.after_event(purchase("2026-11-20T08:00:00Z"), stats, reach)
    conversions.after_event(purchase("2026-12-24T12:00:00Z"), stats, reach)
    assert stats.converted == {}


def test_a_holdouts_conversion_counts_under_the_holdout_stage(reach):
    stats = FakeCampaignStats()
    reach.sent["p-ada"] = [conversions.holdout_touch("c1", SENT_AT)]
    conversions.after_event(purchase("2026-11-21T12:00:00Z", total=5, currency="USD"), stats, reach)
    holdout = stats.summary("c1")["stages"][campaign_stats.HOLDOUT_STAGE]["total"]
    assert (holdout["conversions"], holdout["revenue"]) == (1, {"USD": 5})


def ses_event(event_type, mail_id="ses-1", tags=None, **extra):
    tags = {"campaign": ["c1"], "stage": ["main"], "variant": ["a"]} if tags is None else tags
    return {"eventType": event_type, "mail": {"messageId": mail_id, "tags": tags}, **extra}


def test_deliveries_hard_bounces_and_complaints_count_once_per_mail():
    stats = FakeCampaignStats()
    for event in (
        ses_event("Delivery"),
        ses_event("Delivery"),
        ses_event("Bounce", "ses-2", bounce={"bounceType": "Permanent"}),
        ses_event("Bounce", "ses-3", bounce={"bounceType": "Transient"}),
        ses_event("Complaint", "ses-1"),
        ses_event("Delivery", "ses-4", tags={}),
    ):
        campaign_stats.count_feedback(event, stats)
    variant = counters(stats)
    assert (variant["delivered"], variant["bounced"], variant["complained"]) == (1, 1, 1)
    assert campaign_stats.feedback_ref(ses_event("Delivery", tags={"template": ["x"]})) is None


def test_an_unsubscribe_from_a_campaign_mail_counts_once_per_person(profiles, now):
    stats = FakeCampaignStats()
    for _ in range(2):
        consent.unsubscribe(MessageToken("m1", "p-ada", REF), profiles, now, stats)
    consent.unsubscribe(MessageToken("m1", "p-gone", REF), profiles, now, stats)
    assert counters(stats)["unsubscribes"] == 1
    assert profiles.get("p-ada").status == "unsubscribed"


def test_a_purchase_total_in_a_currency_becomes_revenue_as_a_decimal():
    assert conversions._revenue({"total": 19.99, "currency": "EUR"}) == {"revenue.EUR": Decimal("19.99")}
    assert conversions._revenue({"total": "x", "currency": "EUR"}) == {}
