"""An integrator's events (POST /v1/events): checked at the door, then recorded as activity (closedloop.tracking)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from closedloop.clock import parse_instant
from closedloop.errors import InvalidInput
from closedloop.profiles import validate_profile_id
from closedloop.tokens import new_message_id
from closedloop.validation import business_key, fields_of
from closedloop.values import Activity

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between an integrator and us
OLDEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)


def event_activity(body: object, now: datetime) -> Activity:
    """An integrator's event (purchase, signup, ...) as an activity; stored once by its event_id."""
    data = fields_of(body, required={"profile_id", "type"}, optional={"properties", "occurred_at", "event_id"})
    profile_id = validate_profile_id(data["profile_id"])
    if not isinstance(data["type"], str) or not EVENT_TYPE.match(data["type"]):
        raise InvalidInput("type must look like 'purchase' (a-z, 0-9, '_', '.', '-')")
    properties = data.get("properties", {})
    if not isinstance(properties, dict):
        raise InvalidInput("properties must be a JSON object")
    event_id = business_key(data["event_id"], "event_id") if "event_id" in data else new_message_id()
    return Activity(
        kind="event",
        activity_id=event_id,
        profile_id=profile_id,
        occurred_at=_occurred_at(data.get("occurred_at"), now),
        details={"type": data["type"], "properties": properties},
    )


def _occurred_at(value: object, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        instant = parse_instant(value) if isinstance(value, str) else None
    except (ValueError, OverflowError):
        instant = None
    if instant is None:
        raise InvalidInput("occurred_at must be an ISO 8601 instant with a zone, e.g. 2026-11-22T09:00:00Z")
    if instant > now + FUTURE_TOLERANCE:
        raise InvalidInput("occurred_at is in the future")
    if instant < OLDEST_EVENT:
        raise InvalidInput("occurred_at must be in the year 2000 or later")
    return instant
