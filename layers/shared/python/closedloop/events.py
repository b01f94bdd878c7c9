"""An integrator's events (POST /v1/events), one or a batch of up to 100: checked at the door, then recorded.

Each event is stored once by its `event_id` (closedloop.tracking) together with what it adds to the profile's
aggregates, in the same write, so a repeated event changes nothing: `event_counts` per type; for a `purchase`
(`properties.order_id`, `total`, `currency`) `purchase_count`, `revenue` per currency and `last_purchase_at`,
and it closes the open cart; a `cart_updated` (`cart_id`, `total`, `currency`, `items`) sets the open cart.
Every recorded event then goes on the bus as `event.recorded` for the automations that react to events.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from closedloop import tracking
from closedloop.clock import isoformat, parse_instant
from closedloop.config import Config
from closedloop.errors import InvalidInput, ProfileNotFound
from closedloop.ports import ActivityLog, EventPublisher, ProfileStore
from closedloop.profiles import validate_profile_id
from closedloop.tokens import new_message_id
from closedloop.validation import business_key, fields_of, is_email, normalise_email
from closedloop.values import Activity, Aggregates

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between an integrator and us
OLDEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_BATCH = 100
MAX_CART_ITEMS = 100
RECORDED = "event.recorded"


class IncomingEvent(NamedTuple):
    """A checked event whose profile may still be named by address."""

    activity: Activity  # profile_id is "" until resolved when the event names an email
    email: str | None


def record_events(
    body: object,
    *,
    log: ActivityLog,
    profiles: ProfileStore,
    publisher: EventPublisher,
    config: Config,
    now: datetime,
) -> dict:
    """Check every event, resolve addresses, then record each once and publish what was recorded."""
    incoming, batch = parse(body, now)
    activities = resolve(incoming, profiles)
    results = [{"event_id": a.activity_id, "recorded": tracking.record(a, log, config)} for a in activities]
    # A repeat is published again: consumers key on event_id, and a publish lost after recording is not lost twice.
    publisher.publish_many(RECORDED, [published(a) for a in activities])
    return {"results": results} if batch else results[0]


def parse(body: object, now: datetime) -> tuple[list[IncomingEvent], bool]:
    """One event or {"events": [...]}; every event is checked before any is recorded, a mistake names its index."""
    if not (isinstance(body, dict) and "events" in body):
        return [event(body, now)], False
    fields_of(body, required={"events"}, optional=set())
    items = body["events"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise InvalidInput(f"events must be a list of 1 to {MAX_BATCH} events")
    parsed = []
    for index, item in enumerate(items):
        try:
            parsed.append(event(item, now))
        except InvalidInput as error:
            raise InvalidInput(f"events[{index}]: {error.message}") from error
    ids = [e.activity.activity_id for e in parsed]
    if len(set(ids)) != len(ids):
        raise InvalidInput("events: each event_id may appear once in a batch")
    return parsed, True


def event(body: object, now: datetime) -> IncomingEvent:
    """One event, checked: who (profile_id or email), what (type, properties), when, and its id."""
    data = fields_of(body, required={"type"}, optional={"profile_id", "email", "properties", "occurred_at", "event_id"})
    if ("profile_id" in data) == ("email" in data):
        raise InvalidInput("an event names either profile_id or email")
    email = data.get("email")
    if email is not None and (not isinstance(email, str) or not is_email(email.strip())):
        raise InvalidInput("email must be an address like ada@example.com")
    profile_id = validate_profile_id(data["profile_id"]) if "profile_id" in data else ""
    kind = data["type"]
    if not isinstance(kind, str) or not EVENT_TYPE.match(kind):
        raise InvalidInput("type must look like 'purchase' (a-z, 0-9, '_', '.', '-')")
    properties = data.get("properties", {})
    if not isinstance(properties, dict):
        raise InvalidInput("properties must be a JSON object")
    occurred_at = _occurred_at(data.get("occurred_at"), now)
    activity = Activity(
        kind="event",
        activity_id=business_key(data["event_id"], "event_id") if "event_id" in data else new_message_id(),
        profile_id=profile_id,
        occurred_at=occurred_at,
        details={"type": kind, "properties": properties},
        aggregates=aggregates(kind, properties, isoformat(occurred_at)),
    )
    return IncomingEvent(activity, normalise_email(email) if email else None)


def event_activity(body: object, now: datetime) -> Activity:
    """One event naming its profile by id (the single-event form)."""
    incoming = event(body, now)
    if incoming.email:
        raise InvalidInput("this form needs profile_id")
    return incoming.activity


def aggregates(kind: str, properties: dict, occurred: str) -> Aggregates:
    """What an event of this type adds to the profile (see the module docstring)."""
    counters: list[tuple[str, str | None, float]] = [("event_counts", kind, 1)]
    if kind == "purchase":
        _text(properties, "order_id")
        total, currency = _money(properties)
        counters.append(("purchase_count", None, 1))
        if total is not None:
            counters.append(("revenue", currency, total))
        return Aggregates(tuple(counters), last_purchase_at=occurred, clears_cart=True)
    if kind == "cart_updated":
        total, currency = _money(properties)
        items = properties.get("items", [])
        if not isinstance(items, list) or len(items) > MAX_CART_ITEMS or not all(isinstance(i, dict) for i in items):
            raise InvalidInput(f"properties.items must be a list of at most {MAX_CART_ITEMS} objects")
        cart = {
            "id": _text(properties, "cart_id"),
            "total": total,
            "currency": currency,
            "items": json.dumps(items, separators=(",", ":")),  # stored as text: any shape, read back as given
            "updated_at": occurred,
        }
        return Aggregates(tuple(counters), cart={k: v for k, v in cart.items() if v is not None})
    return Aggregates(tuple(counters))


def _money(properties: dict) -> tuple[float | None, str | None]:
    total, currency = properties.get("total"), properties.get("currency")
    if total is None:
        return None, None
    if isinstance(total, bool) or not isinstance(total, (int, float)) or total < 0:
        raise InvalidInput("properties.total must be a number of at least 0")
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        raise InvalidInput("properties.currency must be a currency code like EUR when total is given")
    return total, currency


def _text(properties: dict, name: str) -> str | None:
    value = properties.get(name)
    if value is not None and (not isinstance(value, str) or not 1 <= len(value) <= 128):
        raise InvalidInput(f"properties.{name} must be text of 1 to 128 characters")
    return value


def resolve(incoming: list[IncomingEvent], profiles: ProfileStore) -> list[Activity]:
    """Every event with its profile id; an address nobody holds is refused, naming the event (nothing recorded)."""
    found: dict[str, str] = {}
    activities = []
    for index, item in enumerate(incoming):
        if item.email is None:
            activities.append(item.activity)
            continue
        if item.email not in found:
            profile = profiles.find_by_email(item.email)
            if profile is None:
                where = f"events[{index}]: " if len(incoming) > 1 else ""
                raise ProfileNotFound(f"{where}no profile holds this address")
            found[item.email] = profile.profile_id
        activities.append(replace(item.activity, profile_id=found[item.email]))
    return activities


def published(activity: Activity) -> dict:
    return {
        "event_id": activity.activity_id,
        "type": activity.details["type"],
        "profile_id": activity.profile_id,
        "occurred_at": isoformat(activity.occurred_at),
        "properties": activity.details["properties"],
    }


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
