"""What an integrator can do through the admin API, as domain functions (the routers only parse and shape)."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timedelta

from closedloop import tracking
from closedloop.clock import parse_instant
from closedloop.config import Config
from closedloop.errors import InvalidInput, ProfileNotFound, TemplateNotFound
from closedloop.ports import Activity, ProfileStore, SendQueue
from closedloop.profiles import Profile, birthday_due_at, idle_due_at, parse_profile_write, validate_profile_id
from closedloop.sending import SendRequest
from closedloop.tokens import new_message_id

EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between an integrator and us


def upsert_profile(
    profile_id: str, body: object, store: ProfileStore, config: Config, now: datetime
) -> tuple[Profile, bool]:
    write = parse_profile_write(profile_id, body)
    return store.upsert(write, now, birthday_due_at(write, config, now), idle_due_at(now, config))


def get_profile(profile_id: str, store: ProfileStore) -> Profile:
    profile = store.get(validate_profile_id(profile_id))
    if profile is None:
        raise ProfileNotFound(f"no profile with id {profile_id!r}")
    return profile


def record_event(body: object, profiles: ProfileStore, config: Config, now: datetime) -> dict:
    """An integrator's event (purchase, signup, ...): stored once by event_id, moves last_activity_at."""
    data = _object(body, required={"profile_id", "type"}, optional={"properties", "occurred_at", "event_id"})
    profile_id = validate_profile_id(data["profile_id"])
    if not isinstance(data["type"], str) or not EVENT_TYPE.match(data["type"]):
        raise InvalidInput("type must look like 'purchase' (a-z, 0-9, '_', '.', '-')")
    properties = data.get("properties", {})
    if not isinstance(properties, dict):
        raise InvalidInput("properties must be a JSON object")
    occurred_at = _instant(data.get("occurred_at"), now)
    event_id = data.get("event_id") or new_message_id()
    if not isinstance(event_id, str) or not IDEMPOTENCY_KEY.match(event_id):
        raise InvalidInput("event_id must be 1-128 characters: letters, digits, '_', '.', ':' or '-'")
    activity = Activity(
        kind="event",
        activity_id=event_id,
        profile_id=profile_id,
        occurred_at=occurred_at,
        details={"type": data["type"], "properties": properties},
    )
    recorded = tracking.record(activity, profiles, config)
    return {"event_id": event_id, "recorded": recorded}


def request_message(body: object, profiles: ProfileStore, queue: SendQueue, template_exists) -> dict:
    """Queue one message through the send gate. With an idempotency_key, a repeated call sends nothing new."""
    data = _object(body, required={"profile_id", "template"}, optional={"idempotency_key", "context"})
    profile_id = validate_profile_id(data["profile_id"])
    template = data["template"]
    if not isinstance(template, str) or not template_exists(template):
        raise TemplateNotFound(f"no template named {template!r}")
    context = data.get("context", {})
    if not isinstance(context, dict):
        raise InvalidInput("context must be a JSON object")
    key = data.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not IDEMPOTENCY_KEY.match(key)):
        raise InvalidInput("idempotency_key must be 1-128 characters: letters, digits, '_', '.', ':' or '-'")
    if profiles.get(profile_id) is None:
        raise ProfileNotFound(f"no profile with id {profile_id!r}")
    message_id = _derived_id(f"{key}|{profile_id}") if key else new_message_id()
    request = SendRequest(
        send_key=f"api#{key or message_id}#{profile_id}",
        profile_id=profile_id,
        template=template,
        message_id=message_id,
        context=context,
    )
    queue.enqueue([request])
    return {"message_id": message_id}


def _derived_id(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()[:16]).rstrip(b"=").decode()


def _object(body: object, required: set[str], optional: set[str]) -> dict:
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    missing = required - set(body)
    if missing:
        raise InvalidInput(f"missing field(s): {', '.join(sorted(missing))}")
    unknown = set(body) - required - optional
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    return body


def _instant(value: object, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        instant = parse_instant(value) if isinstance(value, str) else None
    except ValueError:
        instant = None
    if instant is None:
        raise InvalidInput("occurred_at must be an ISO 8601 instant with a zone, e.g. 2026-11-22T09:00:00Z")
    if instant > now + FUTURE_TOLERANCE:
        raise InvalidInput("occurred_at is in the future")
    return instant
