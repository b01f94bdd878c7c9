"""Profiles: what an integrator may write, and the derived attributes that make scheduled checks cheap.

The scheduled checks never scan. Each profile that can fall due carries, per check, a shard key and a due
instant; the table's sparse indexes `birthday_due` and `idle_due` hold only those profiles, spread over
DUE_SHARDS partitions (one partition takes ~1,000 writes/s). A check queries every shard for "due <= now".
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from closedloop.birthdays import index_key, upcoming_birthday_morning
from closedloop.clock import isoformat
from closedloop.config import Config
from closedloop.errors import InvalidInput
from closedloop.tokens import PROFILE_ID

DUE_SHARDS = 8
STATUSES = ("subscribed", "unsubscribed", "pending")
# Attributes with meaning to closedloop; others are free-form strings/numbers for templates.
KNOWN_ATTRIBUTES = {"first_name": str, "last_name": str, "birthday": str, "timezone": str, "locale": str}
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_LENGTH = 500


@dataclass
class Profile:
    profile_id: str
    email: str
    status: str
    attributes: dict = field(default_factory=dict)
    interests: dict[str, int] = field(default_factory=dict)
    last_activity_at: str | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def subscribed(self) -> bool:
        return self.status == "subscribed"

    def to_api(self) -> dict:
        return {
            "profile_id": self.profile_id,
            "email": self.email,
            "status": self.status,
            "attributes": self.attributes,
            "interests": self.interests,
            "last_activity_at": self.last_activity_at,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class ProfileWrite(NamedTuple):
    """A validated PUT /v1/profiles/{id} body."""

    profile_id: str
    email: str
    status: str
    attributes: dict


def validate_profile_id(profile_id: str) -> str:
    if not isinstance(profile_id, str) or not PROFILE_ID.match(profile_id):
        raise InvalidInput("profile_id must be 1-64 characters: letters, digits, '_', ':' or '-'")
    return profile_id


def parse_profile_write(profile_id: str, body: object) -> ProfileWrite:
    """Check a profile body field by field; the first problem is reported in one sentence."""
    validate_profile_id(profile_id)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = set(body) - {"email", "status", "attributes"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    email = body.get("email")
    if not isinstance(email, str) or not _looks_like_email(email):
        raise InvalidInput("email must be an address like ada@example.com")
    status = body.get("status", "subscribed")
    if status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    attributes = body.get("attributes", {})
    if not isinstance(attributes, dict):
        raise InvalidInput("attributes must be a JSON object")
    return ProfileWrite(profile_id, email.strip(), status, _validate_attributes(attributes))


def _looks_like_email(text: str) -> bool:
    # Deliberately simple: SES validates for real. We only refuse what can break a header.
    local, at, domain = text.strip().rpartition("@")
    return bool(at and local and "." in domain and len(text) <= 254) and not any(c in text for c in "\r\n<>, ")


def _validate_attributes(attributes: dict) -> dict:
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInput(f"at most {MAX_ATTRIBUTES} attributes")
    for name, value in attributes.items():
        expected = KNOWN_ATTRIBUTES.get(name)
        if expected and not isinstance(value, expected):
            raise InvalidInput(f"attributes.{name} must be a {expected.__name__}")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) and value is not None:
            raise InvalidInput(f"attributes.{name} must be a string or a number")
        if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_LENGTH:
            raise InvalidInput(f"attributes.{name} is longer than {MAX_ATTRIBUTE_LENGTH} characters")
    if "birthday" in attributes:
        parse_birthday(attributes["birthday"])
    if "timezone" in attributes:
        parse_zone(attributes["timezone"])
    return attributes


def parse_birthday(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError) as error:
        raise InvalidInput("attributes.birthday must be a date like 1990-06-15") from error


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise InvalidInput("attributes.timezone must be an IANA zone like Europe/Berlin") from error


def shard_of(profile_id: str, kind: str) -> str:
    """Stable shard key for a due index: spreads writes and queries over DUE_SHARDS partitions."""
    return f"{kind}#{zlib.crc32(profile_id.encode()) % DUE_SHARDS}"


def all_shards(kind: str) -> list[str]:
    return [f"{kind}#{n}" for n in range(DUE_SHARDS)]


def profile_zone(attributes: dict, config: Config) -> ZoneInfo:
    name = attributes.get("timezone") or config.birthday.default_timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(config.birthday.default_timezone)


def birthday_due_at(write: ProfileWrite, config: Config, now: datetime) -> str | None:
    """When the birthday check should pick this profile up; None keeps it out of the index."""
    if write.status != "subscribed" or not write.attributes.get("birthday"):
        return None
    birthday = parse_birthday(write.attributes["birthday"])
    zone = profile_zone(write.attributes, config)
    morning = upcoming_birthday_morning(birthday, zone, config.birthday.local_hour, now)
    return index_key(morning, birthday, zone.key)


def idle_due_at(last_activity: datetime, config: Config) -> str:
    """When silence since `last_activity` becomes long enough for we-miss-you."""
    return isoformat(last_activity + timedelta(days=config.we_miss_you.inactive_days))
