"""Campaigns: what a marketer asks for (checked whole at create), the lifecycle, and what GET shows.

Statuses: draft -> scheduled (send_at) -> sending -> sent, with paused (and back) while sending, and cancelled
from anything but sent. The first send of a campaign is the stage `main`; `stages` follow it on one-time schedules
(closedloop.dispatch does the sending). A wrong transition is a 409 with a code naming the state it found.

A campaign's window (what a stage's `to: not_converted` and the goal count within) starts when the first send
starts and ends `[campaigns] window_tail_days` (config) after the last stage's send.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from closedloop import segments
from closedloop.clock import isoformat, parse_instant
from closedloop.errors import ClosedloopError, InvalidInput, NotFound, TemplateNotFound
from closedloop.events import EVENT_TYPE

if TYPE_CHECKING:
    from closedloop.ports import CampaignStore, SegmentStore

MAIN = "main"  # the stage id of a campaign's first send
# Names the campaign uses itself: the first send, the A/B winner's phase, the holdout's statistics.
RESERVED_STAGES = (MAIN, "winner", "holdout")
ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")  # never "-": the statistics' key for "no variant"
# The longest an A/B wait or a stage may lie after the start: a campaign's audience pages are kept for 60 days
# (closedloop.adapters.campaigns.AUDIENCE_RETENTION_DAYS), and a later phase reads them again.
MAX_SPAN = timedelta(days=30)
CAMPAIGN_ID = re.compile(r"^c_[0-9a-f]{24}$")
MAX_NAME = 200
MAX_SUBJECT = 300
MAX_VARIANTS = 10
MAX_STAGES = 10
METRICS = ("human_clicks", "conversions")
STATUSES = ("draft", "scheduled", "sending", "paused", "sent", "cancelled")
_DURATION = re.compile(r"^([1-9][0-9]{0,4})([mhdw])$")
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
FIELDS = {"name", "template", "variants", "segment", "rules", "topic", "send_at", "ab", "stages", "goal", "context"}


class CampaignNotFound(NotFound):
    code = "campaign_not_found"


class SegmentNotFound(NotFound):
    code = "segment_not_found"


class WrongState(ClosedloopError):
    """A transition the campaign's status does not allow (the code names what stands in the way)."""

    status = 409

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def duration(text: object, where: str) -> timedelta:
    """ "30m", "4h", "3d", "2w" -> a timedelta; InvalidInput naming `where` otherwise."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if not match:
        raise InvalidInput(f'{where} must be a duration such as "30m", "4h", "3d" or "2w"')
    return int(match.group(1)) * _UNITS[match.group(2)]


def window_until(definition: dict, started: datetime, tail: timedelta) -> datetime:
    """When a campaign stops counting its goal: `tail` after its last planned send (the A/B winner after `ab.wait`,
    each stage's `after` from the start or its `at`)."""
    last = started + (duration(definition["ab"]["wait"], "ab.wait") if definition.get("ab") else timedelta(0))
    for stage in definition.get("stages") or []:
        at = parse_instant(stage["at"]) if stage.get("at") else started + duration(stage["after"], "after")
        last = max(last, at)
    return last + tail


def _instant(text: object, where: str) -> datetime:
    try:
        return parse_instant(text) if isinstance(text, str) else parse_instant("")
    except ValueError as error:
        raise InvalidInput(f"{where} must be an ISO 8601 instant with a zone, e.g. 2026-11-22T09:00:00Z") from error


def _text(body: dict, key: str, limit: int, where: str | None = None) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(f"{where or key} must be text of 1 to {limit} characters")
    return value


def _share(value: object, where: str, low_open: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{where} must be a number")
    low_ok = value > 0 if low_open else value >= 0
    if not (low_ok and value < 1):
        raise InvalidInput(f"{where} must be {'more than' if low_open else 'at least'} 0 and less than 1")
    return float(value)


def parse_definition(
    body: object,
    *,
    template_exists: Callable[[str], bool],
    segment_exists: Callable[[str], bool],
    topics: tuple[str, ...],
    now: datetime,
) -> dict:
    """Check a POST /v1/campaigns body whole: the normalised definition, or an error naming the field."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = set(body) - FIELDS
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))[:200]}")
    definition: dict = {"name": _text(body, "name", MAX_NAME)}

    def template(name: object, where: str) -> str:
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"{where} must name a template")
        if not template_exists(name):
            raise TemplateNotFound(f"{where}: no template named {name[:64]!r}")
        return name

    if "template" not in body and "variants" not in body:
        raise InvalidInput('give "template" or "variants"')
    if "template" in body:
        definition["template"] = template(body["template"], "template")
    if "variants" in body:
        definition["variants"] = _variants(body["variants"], definition.get("template"), template)

    if ("segment" in body) == ("rules" in body):
        raise InvalidInput('give exactly one of "segment" (a segment id) or "rules"')
    if "segment" in body:
        segment_id = body["segment"]
        if not isinstance(segment_id, str) or not segment_exists(segment_id):
            raise SegmentNotFound(f"segment: no segment {str(segment_id)[:64]!r}")
        definition["segment"] = segment_id
    else:
        definition["rules"] = segments.parse(body["rules"], "rules").rules

    if "topic" in body:
        if body["topic"] not in topics:
            raise InvalidInput(f"topic must be one of the configured topics: {', '.join(topics)}")
        definition["topic"] = body["topic"]
    start = now
    if "send_at" in body:
        start = _instant(body["send_at"], "send_at")
        if start <= now:
            raise InvalidInput("send_at is in the past: give a future instant, or leave it out to send on /send")
        definition["send_at"] = isoformat(start)
    if "context" in body:
        if not isinstance(body["context"], dict):
            raise InvalidInput("context must be a JSON object")
        definition["context"] = body["context"]
    if "ab" in body:
        definition["ab"] = _ab(body["ab"], definition.get("variants"))
    if "goal" in body:
        definition["goal"] = _goal(body["goal"])
    if "stages" in body:
        if "goal" not in definition:
            raise InvalidInput('stages: a campaign with stages needs a "goal" ({"click": true} or {"event": ...})')
        definition["stages"] = _stages(body["stages"], template, start, definition.get("ab"))
    return definition


def _variants(value: object, base: str | None, template: Callable[[object, str], str]) -> list[dict]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_VARIANTS:
        raise InvalidInput(f"variants must be a list of 1 to {MAX_VARIANTS} variants")
    seen: set[str] = set()
    variants = []
    for n, variant in enumerate(value):
        where = f"variants[{n}]"
        if not isinstance(variant, dict) or set(variant) - {"id", "subject", "template"}:
            raise InvalidInput(f'{where} must be an object with "id" and "subject" and/or "template"')
        variant_id = variant.get("id")
        if not isinstance(variant_id, str) or not ID.match(variant_id):
            raise InvalidInput(f"{where}.id must be 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit")
        if variant_id in seen:
            raise InvalidInput(f"{where}.id: {variant_id!r} is used twice")
        seen.add(variant_id)
        if "subject" not in variant and "template" not in variant:
            raise InvalidInput(f'{where} needs a "subject" or a "template"')
        shaped = {"id": variant_id}
        if "template" in variant:
            shaped["template"] = template(variant["template"], f"{where}.template")
        elif base is None:
            raise InvalidInput(f'{where} has no template: give one, or a campaign "template"')
        if "subject" in variant:
            shaped["subject"] = _text(variant, "subject", MAX_SUBJECT, f"{where}.subject")
        variants.append(shaped)
    return variants


def _ab(value: object, variants: list[dict] | None) -> dict:
    if not isinstance(value, dict) or set(value) - {"test_share", "metric", "wait", "holdout_share"}:
        raise InvalidInput('ab must be an object: {"test_share", "metric", "wait", "holdout_share"?}')
    if not variants or len(variants) < 2:
        raise InvalidInput("ab: an A/B test needs at least 2 variants")
    for key in ("test_share", "metric", "wait"):
        if key not in value:
            raise InvalidInput(f"ab.{key} is required")
    test = _share(value["test_share"], "ab.test_share", low_open=True)
    holdout = _share(value.get("holdout_share", 0), "ab.holdout_share", low_open=False)
    if test + holdout >= 1:
        raise InvalidInput("ab: test_share + holdout_share must be less than 1 (someone must get the winner)")
    if value["metric"] not in METRICS:
        raise InvalidInput(f"ab.metric must be one of {', '.join(METRICS)}")
    if duration(value["wait"], "ab.wait") > MAX_SPAN:
        raise InvalidInput("ab.wait may be at most 30 days")
    return {"test_share": test, "holdout_share": holdout, "metric": value["metric"], "wait": value["wait"]}


def _goal(value: object) -> dict:
    if value == {"click": True}:
        return {"click": True}
    if isinstance(value, dict) and set(value) == {"event"} and isinstance(value["event"], str):
        if EVENT_TYPE.match(value["event"]):
            return {"event": value["event"]}
    raise InvalidInput('goal must be {"click": true} or {"event": "<event type>"}, e.g. {"event": "purchase"}')


def _stages(value: object, template, start: datetime, ab: dict | None) -> list[dict]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STAGES:
        raise InvalidInput(f"stages must be a list of 1 to {MAX_STAGES} stages")
    seen: set[str] = set()
    stages = []
    for n, stage in enumerate(value):
        where = f"stages[{n}]"
        if not isinstance(stage, dict) or set(stage) - {"id", "after", "at", "template", "to"}:
            raise InvalidInput(f'{where} must be an object with "id", "after" or "at", "template" and "to"')
        stage_id = stage.get("id")
        if not isinstance(stage_id, str) or not ID.match(stage_id):
            raise InvalidInput(f"{where}.id must be 1 to 32 of a-z, 0-9, _ and -, starting with a letter or digit")
        if stage_id in RESERVED_STAGES:
            raise InvalidInput(f"{where}.id: {stage_id!r} is reserved ({', '.join(RESERVED_STAGES)})")
        if stage_id in seen:
            raise InvalidInput(f"{where}.id: {stage_id!r} is used twice")
        seen.add(stage_id)
        if ("after" in stage) == ("at" in stage):
            raise InvalidInput(f'{where} needs exactly one of "after" (e.g. "3d") or "at" (an instant)')
        shaped = {"id": stage_id, "template": template(stage.get("template"), f"{where}.template")}
        if stage.get("to", "not_converted") != "not_converted":
            raise InvalidInput(f'{where}.to must be "not_converted"')
        shaped["to"] = "not_converted"
        if "after" in stage:
            after = duration(stage["after"], f"{where}.after")
            if after > MAX_SPAN:
                raise InvalidInput(f"{where}.after may be at most 30 days")
            if ab and after <= duration(ab["wait"], "ab.wait"):
                raise InvalidInput(f"{where}.after must be longer than ab.wait (the winner goes out first)")
            shaped["after"] = stage["after"]
        else:
            at = _instant(stage["at"], f"{where}.at")
            if at <= start:
                raise InvalidInput(f"{where}.at must lie after the campaign's send_at (or now)")
            if at > start + MAX_SPAN:
                raise InvalidInput(f"{where}.at may lie at most 30 days after the campaign's send_at (or now)")
            shaped["at"] = isoformat(at)
        stages.append(shaped)
    return stages


# --- lifecycle --------------------------------------------------------------------------------------------------


def new_campaign_id() -> str:
    return f"c_{uuid.uuid4().hex[:24]}"


def create(definition: dict, store: CampaignStore, now: datetime) -> dict:
    campaign_id = new_campaign_id()
    store.create(campaign_id, definition, isoformat(now))
    return {"campaign_id": campaign_id, "status": "draft"}


def get(store: CampaignStore, campaign_id: str, consistent: bool = True) -> dict:
    campaign = store.get(campaign_id, consistent=consistent) if CAMPAIGN_ID.match(campaign_id) else None
    if campaign is None:
        raise CampaignNotFound(f"no campaign {campaign_id[:64]!r}")
    return campaign


REFUSALS = {
    "send": {
        "scheduled": ("campaign_already_sending", "the campaign is scheduled already"),
        "sending": ("campaign_already_sending", "the campaign is sending already"),
        "paused": ("campaign_already_sending", "the campaign is sending (paused); resume it instead"),
        "sent": ("campaign_already_sent", "the campaign was sent; create a new one to send again"),
        "cancelled": ("campaign_cancelled", "the campaign was cancelled; it can no longer be sent"),
    },
    "pause": {
        "draft": ("campaign_not_sending", "the campaign is not sending"),
        "scheduled": ("campaign_not_sending", "the campaign is scheduled, not sending; cancel it instead"),
        "sent": ("campaign_already_sent", "the campaign was sent"),
        "cancelled": ("campaign_cancelled", "the campaign was cancelled"),
    },
    "resume": {
        "draft": ("campaign_not_paused", "the campaign is not paused"),
        "scheduled": ("campaign_not_paused", "the campaign is not paused"),
        "sent": ("campaign_already_sent", "the campaign was sent"),
        "cancelled": ("campaign_cancelled", "the campaign was cancelled"),
    },
    "cancel": {"sent": ("campaign_already_sent", "the campaign was sent; nothing is left to cancel")},
}


def refuse_unless_allowed(action: str, status: str) -> None:
    refusal = REFUSALS[action].get(status)
    if refusal:
        raise WrongState(*refusal)


def rules_at_send(definition: dict, segment_store: SegmentStore) -> dict:
    """The rules a campaign targets with, as they stand when it is sent (a named segment is read then)."""
    if "rules" in definition:
        return definition["rules"]
    segment = segment_store.get(definition["segment"])
    if segment is None:
        raise SegmentNotFound(f"segment {definition['segment']!r} was deleted since the campaign was created")
    return segment["rules"]


def view(campaign: dict, progress: dict, summary: dict) -> dict:
    """GET /v1/campaigns/{id}: definition, status, timestamps, progress per phase, targeted, winner, stats."""
    shown = {key: campaign.get(key) for key in ("campaign_id", "name", "status", "created_at", "updated_at")}
    shown["definition"] = campaign["definition"]
    for key in ("send_at", "started_at", "finished_at", "cancelled_at", "winner", "phase"):
        shown[key] = campaign.get(key)
    shown["targeted"] = int(campaign.get("audience_total") or 0)
    shown["audience"] = {
        "scan_segments": int(campaign.get("scan_segments") or 0),
        "scanned": sorted(int(s) for s in campaign.get("scanned") or ()),
        "pages": int(sum(int(n) for n in (campaign.get("segment_pages") or {}).values())),
    }
    shown["progress"] = progress
    shown["pacing"] = {"throttles": int(campaign.get("throttles") or 0)}
    shown["stats"] = summary
    return shown


def listed(campaign: dict) -> dict:
    return {key: campaign.get(key) for key in ("campaign_id", "name", "status", "created_at", "updated_at")}
