"""Conversions: a person reaching a campaign's goal within its window, counted once per campaign and person.

A campaign's `goal` is `{"click": true}` (a person's first click on one of its links) or `{"event": "<type>"}` (an
integrator's event of that type, e.g. a purchase). Its window opens when its first send starts (`started_at`) and
closes WINDOW_TAIL after its last planned send (the A/B winner after `ab.wait`, each stage's `after`/`at`).

- Click goal: the settle step, once it has found a click to be a person's (`after_human_click`).
- Event goal: functions/conversions, on the bus rule for `event.recorded` (`after_event`): the campaigns that sent
  this person a mail (or held them out of an A/B test) before the event, within the window. A holdout's conversion
  is counted under the stage HOLDOUT_STAGE, which is what an A/B test's holdout is measured by.

Either way the conversion is one transaction: the ledger's `converted#<campaign>#<profile>` (campaign_keys: what a
later stage leaves out), put if absent, and `ADD conversions 1` (and `revenue.<currency>` for an event with a
total) on the campaign's statistics, under the stage and variant the person was last sent. Idempotent by that key.
A click on a campaign's link also counts `clicks_human_unique` once per stage and person (fact `clicked#<stage>#
<profile>`), here because it needs a fact of its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, NamedTuple

from closedloop import campaigns
from closedloop.campaign_stats import HOLDOUT_STAGE
from closedloop.clock import parse_instant
from closedloop.values import Activity, CampaignRef

if TYPE_CHECKING:
    from closedloop.ports import CampaignReach, CampaignStats

# How long after its last planned send a campaign still counts conversions (the campaigns engineer's
# `[campaigns] window_tail_days`, 7 by default).
WINDOW_TAIL = timedelta(days=7)


class Goal(NamedTuple):
    click: bool
    event: str | None
    starts: datetime | None  # None: not sent yet (nothing converts)
    until: datetime | None

    def within(self, at: datetime) -> bool:
        return self.starts is not None and self.until is not None and self.starts <= at <= self.until


class Touch(NamedTuple):
    """A campaign reaching a person: a mail of a stage (and variant) sent, or the A/B holdout, at an instant."""

    campaign_id: str
    stage: str
    variant: str | None
    at: datetime

    @property
    def ref(self) -> CampaignRef:
        return CampaignRef(self.campaign_id, self.stage, self.variant)


def goal_of(campaign: dict | None, tail: timedelta = WINDOW_TAIL) -> Goal | None:
    """The goal and window of a stored campaign (`definition`, `started_at`, and `window_until`, which the dispatcher
    stores when the campaign starts; computed with `tail` for one stored without it)."""
    definition = (campaign or {}).get("definition") or {}
    goal = definition.get("goal")
    if not isinstance(goal, dict) or not (goal.get("click") is True or isinstance(goal.get("event"), str)):
        return None
    click, event = goal.get("click") is True, goal.get("event") if isinstance(goal.get("event"), str) else None
    if not campaign.get("started_at"):
        return Goal(click, event, None, None)
    starts = parse_instant(campaign["started_at"])
    if campaign.get("window_until"):
        return Goal(click, event, starts, parse_instant(campaign["window_until"]))
    return Goal(click, event, starts, campaigns.window_until(definition, starts, tail))


def after_human_click(activity: Activity, stats: CampaignStats, reach: CampaignReach) -> bool:
    """A person's click on a campaign's link: `clicks_human_unique` once per stage, and the click goal. Idempotent
    (run again when a settle step is redelivered). True if it converted the person now."""
    campaign = activity.details.get("campaign")
    if not campaign:
        return False
    ref = CampaignRef.from_dict(campaign)
    stats.add(
        ref,
        {"clicks_human_unique": 1},
        fact=f"clicked#{ref.stage}#{activity.profile_id}",
        shard_of=activity.profile_id,
    )
    goal = goal_of(reach.campaign(ref.id))
    if goal is None or not goal.click or not goal.within(activity.occurred_at):
        return False
    return stats.convert(ref, activity.profile_id, {"conversions": 1})


def after_event(event: dict, stats: CampaignStats, reach: CampaignReach) -> list[str]:
    """An integrator's event (the `event.recorded` detail): the campaigns it converts the person for, counted once
    each. Returns the ids of the campaigns converted now."""
    profile_id, kind = event.get("profile_id"), event.get("type")
    occurred = parse_instant(str(event.get("occurred_at")))
    latest: dict[str, Touch] = {}
    for touch in reach.touches(profile_id):
        if touch.at <= occurred and (touch.campaign_id not in latest or latest[touch.campaign_id].at < touch.at):
            latest[touch.campaign_id] = touch
    converted = []
    for campaign_id, touch in sorted(latest.items()):
        goal = goal_of(reach.campaign(campaign_id))
        if goal is None or goal.event != kind or not goal.within(occurred):
            continue
        if stats.convert(touch.ref, profile_id, {"conversions": 1, **_revenue(event.get("properties"))}):
            converted.append(campaign_id)
    return converted


def _revenue(properties: object) -> dict[str, Decimal]:
    """`revenue.<currency>` of an event with a total (a purchase), else nothing."""
    if not isinstance(properties, dict) or not isinstance(properties.get("currency"), str):
        return {}
    try:
        total = Decimal(str(properties.get("total")))
    except InvalidOperation:
        return {}
    return {f"revenue.{properties['currency']}": total} if total.is_finite() else {}


def holdout_touch(campaign_id: str, at: datetime) -> Touch:
    return Touch(campaign_id, HOLDOUT_STAGE, None, at)
