"""Profiles: what an integrator may write, how a write merges with what is stored, and the due keys it leaves.

The scheduled checks never scan: each profile that can fall due carries a shard key and a due instant in a sparse
index (closedloop.due); this module decides which entries a profile's change leaves there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from closedloop.birthdays import index_key, upcoming_birthday_morning
from closedloop.clock import isoformat
from closedloop.config import Config
from closedloop.due import idle_due_at
from closedloop.errors import ConcurrentUpdate, ConsentWithdrawn, DependencyFailed, InvalidInput
from closedloop.tokens import PROFILE_ID
from closedloop.validation import fits_dynamodb, has_line_break, is_email, normalise_email

if TYPE_CHECKING:
    from closedloop.ports import ProfileStore

STATUSES = ("subscribed", "unsubscribed", "pending")
# A profile created without a status waits for consent: only an explicit "subscribed" lets mail out.
NEW_PROFILE_STATUS = "pending"
# Attributes with meaning to closedloop; they end up in headers (names) or drive schedules, so they are strict.
KNOWN_ATTRIBUTES = ("first_name", "last_name", "birthday", "timezone", "locale")
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
LOCALE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$")
BIRTHDAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
OLDEST_BIRTH_YEAR = 1900
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
    # Counts the writes of PUT and consent changes: the optimistic lock of a read-merge-write (clicks leave it).
    version: int = 0
    # How and when the current status was reached: {"source": "api" | "unsubscribe_link" | ..., "at": ...}.
    consent: dict | None = None
    # Aggregates of the integrator's events (closedloop.events).
    event_counts: dict[str, int] = field(default_factory=dict)
    purchase_count: int = 0
    revenue: dict[str, float] = field(default_factory=dict)
    last_purchase_at: str | None = None
    cart: dict | None = None
    # The topics the person receives; None: they never chose, and receive every topic.
    topics: list[str] | None = None
    # How often each offer (closedloop.offers, by id) went out to the person: added when a mail is marked sent.
    offers_sent: dict[str, int] = field(default_factory=dict)
    # Behaviour kept for segments (a segment reads each profile once), moved by opens and a person's clicks only
    # forward: the last open (opens do not move last_activity_at), the last human click, and the campaigns the
    # person clicked (closedloop.adapters.activity writes them with the open or click).
    last_opened_at: str | None = None
    last_clicked_at: str | None = None
    clicked_campaigns: list[str] = field(default_factory=list)

    @property
    def subscribed(self) -> bool:
        return self.status == "subscribed"

    def receives(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics

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
            "consent": self.consent,
            "event_counts": self.event_counts,
            "purchase_count": self.purchase_count,
            "revenue": self.revenue,
            "last_purchase_at": self.last_purchase_at,
            "cart": self.cart,
            "topics": self.topics,
            "offers_sent": self.offers_sent,
            "last_opened_at": self.last_opened_at,
            "last_clicked_at": self.last_clicked_at,
            "clicked_campaigns": self.clicked_campaigns,
        }


class ProfileWrite(NamedTuple):
    """A validated PUT /v1/profiles/{id} body: None for a field that was not sent; an attribute None deletes it."""

    profile_id: str
    email: str | None
    status: str | None
    attributes: dict
    # The topics the person receives (checked against the configuration by merge); None: unchanged.
    topics: tuple[str, ...] | None = None


class ProfileChange(NamedTuple):
    """What a write leaves on the profile, decided here so that every store applies the same rules.

    `idle_due` starts the silence clock if none is running (a running one is kept: a profile sync is not
    activity); None takes the profile out of the inactivity index. `birthday_due` replaces the entry; None removes it.
    `email` is normalised and claimed for this profile alone; `previous_email`, when it differs, is released.
    `consent` is the new record of how the status was reached (None: unchanged); `topics` likewise.
    """

    profile_id: str
    email: str
    status: str
    attributes: dict
    birthday_due: str | None
    idle_due: str | None
    previous_email: str | None = None
    consent: dict | None = None
    topics: tuple[str, ...] | None = None


def validate_profile_id(profile_id: str) -> str:
    if not isinstance(profile_id, str) or not PROFILE_ID.match(profile_id):
        raise InvalidInput("profile_id must be 1-64 characters: letters, digits, '_', ':' or '-'")
    return profile_id


def parse_profile_write(profile_id: str, body: object, now: datetime) -> ProfileWrite:
    """Check a profile body field by field; the first problem is reported in one sentence."""
    validate_profile_id(profile_id)
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    unknown = set(body) - {"email", "status", "attributes", "topics"}
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(unknown))}")
    email = body.get("email")
    if email is not None:
        if not isinstance(email, str) or not is_email(email.strip()):
            raise InvalidInput("email must be an address like ada@example.com (ASCII, one address)")
        email = email.strip()
    status = body.get("status")
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}")
    attributes = body.get("attributes", {})
    if not isinstance(attributes, dict):
        raise InvalidInput("attributes must be a JSON object")
    topics = parse_topics(body["topics"]) if "topics" in body else None
    return ProfileWrite(profile_id, email, status, _validate_attributes(attributes, now), topics)


MAX_TOPICS = 50


def parse_topics(value: object) -> tuple[str, ...]:
    """A list of topic ids (their existence is checked against the configuration by `check_topics`)."""
    if not isinstance(value, list) or len(value) > MAX_TOPICS or not all(isinstance(t, str) for t in value):
        raise InvalidInput(f"topics must be a list of at most {MAX_TOPICS} topic ids")
    return tuple(dict.fromkeys(value))


def check_topics(topics: tuple[str, ...], config: Config) -> tuple[str, ...]:
    unknown = [topic for topic in topics if topic not in config.topic_ids]
    if unknown:
        known = ", ".join(config.topic_ids) or "none are configured"
        raise InvalidInput(f"unknown topic {unknown[0][:40]!r} (known: {known})")
    return topics


def merge(existing: Profile | None, write: ProfileWrite, config: Config, now: datetime) -> ProfileChange:
    """The profile after `write`: attributes merged (None deletes one), the stored status kept unless one is sent."""
    if existing is None and write.email is None:
        raise InvalidInput("email is required to create a profile")
    attributes = dict(existing.attributes) if existing else {}
    for name, value in write.attributes.items():
        if value is None:
            attributes.pop(name, None)
        else:
            attributes[name] = value
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInput(f"a profile holds at most {MAX_ATTRIBUTES} attributes")
    status = write.status or (existing.status if existing else NEW_PROFILE_STATUS)
    if existing and write.status == "subscribed" and withdrawn_by_the_person(existing):
        raise ConsentWithdrawn(
            f"profile {existing.profile_id!r} unsubscribed themselves ({existing.consent['source']}); only their own "
            "new double opt-in can subscribe them again"
        )
    status_changed = existing is None or status != existing.status
    topics = check_topics(write.topics, config) if write.topics is not None else None
    change = ProfileChange(
        profile_id=write.profile_id,
        email=normalise_email(write.email) if write.email else existing.email,
        status=status,
        attributes=attributes,
        birthday_due=None,
        idle_due=idle_due_at(now, config) if status == "subscribed" else None,
        previous_email=existing.email if existing else None,
        consent=consent_record("api", now) if status_changed else None,
        topics=topics,
    )
    return change._replace(birthday_due=birthday_due_at(change, config, now))


def subscribed_by_the_person(
    existing: Profile, config: Config, now: datetime, consent: dict, topics: tuple[str, ...] | None
) -> ProfileChange:
    """The profile after the person's own double opt-in: subscribed with its proof, whatever they had withdrawn.

    The one way past ConsentWithdrawn: only the person can give back the consent they took away. `topics` are the
    ones they asked for (None: every topic, as a profile that never chose).
    """
    change = ProfileChange(
        profile_id=existing.profile_id,
        email=existing.email,
        status="subscribed",
        attributes=dict(existing.attributes),
        birthday_due=None,
        idle_due=idle_due_at(now, config),
        previous_email=existing.email,
        consent=consent,
        topics=tuple(topic for topic in topics if topic in config.topic_ids) if topics is not None else None,
    )
    return change._replace(birthday_due=birthday_due_at(change, config, now))


# Ways a person leaves by their own hand; an integrator cannot undo them (double opt-in, the person's own, can).
WITHDRAWN_BY_PERSON = ("unsubscribe_link", "preference_page", "complaint")


def withdrawn_by_the_person(profile: Profile) -> bool:
    return profile.status == "unsubscribed" and (profile.consent or {}).get("source") in WITHDRAWN_BY_PERSON


def consent_record(source: str, now: datetime, **proof: str) -> dict:
    """How a status was reached: the source, the instant, and for a double opt-in the proof (IP, agent, text)."""
    return {"source": source, "at": isoformat(now), **proof}


def _validate_attributes(attributes: dict, now: datetime) -> dict:
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidInput(f"at most {MAX_ATTRIBUTES} attributes")
    for name, value in attributes.items():
        if not ATTRIBUTE_NAME.match(name):
            raise InvalidInput(
                f"attribute name {name[:70]!r} must be 1-64 characters: a letter, then letters, digits or '_'"
            )
        if value is None:
            continue  # deletes the attribute
        if name in KNOWN_ATTRIBUTES:
            if not isinstance(value, str) or not value.strip() or has_line_break(value):
                raise InvalidInput(f"attributes.{name} must be a single line of text")
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidInput(f"attributes.{name} must be a string, a number or null")
        if isinstance(value, str) and len(value) > MAX_ATTRIBUTE_LENGTH:
            raise InvalidInput(f"attributes.{name} is longer than {MAX_ATTRIBUTE_LENGTH} characters")
        if isinstance(value, (int, float)) and not fits_dynamodb(value):
            raise InvalidInput(f"attributes.{name} is not a number DynamoDB can hold (at most 38 digits)")
    if attributes.get("birthday") is not None:
        parse_birthday(attributes["birthday"], now)
    if attributes.get("timezone") is not None:
        parse_zone(attributes["timezone"])
    if attributes.get("locale") is not None and not LOCALE.match(attributes["locale"]):
        raise InvalidInput("attributes.locale must be a language tag like de-DE")
    return attributes


def parse_birthday(text: str, now: datetime | None = None) -> date:
    """YYYY-MM-DD only (not 19900615, not 1990-W24-5), from 1900 up to today."""
    match = BIRTHDAY.match(text) if isinstance(text, str) else None
    try:
        birthday = date(*map(int, match.groups())) if match else None
    except ValueError:
        birthday = None
    if birthday is None:
        raise InvalidInput("attributes.birthday must be a date like 1990-06-15")
    if birthday.year < OLDEST_BIRTH_YEAR or (now is not None and birthday > now.date()):
        raise InvalidInput(f"attributes.birthday must lie between {OLDEST_BIRTH_YEAR} and today")
    return birthday


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError) as error:
        raise InvalidInput("attributes.timezone must be an IANA zone like Europe/Berlin") from error


def profile_zone(attributes: dict, config: Config) -> ZoneInfo:
    name = attributes.get("timezone") or config.birthday.default_timezone
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(config.birthday.default_timezone)


def birthday_due_at(write: ProfileWrite | ProfileChange, config: Config, now: datetime) -> str | None:
    """When the birthday check should pick this profile up; None keeps it out of the index."""
    if write.status != "subscribed" or not write.attributes.get("birthday"):
        return None
    try:
        birthday = parse_birthday(write.attributes["birthday"])
    except InvalidInput:
        return None  # stored under older, looser rules: no birthday mail rather than a failed write
    zone = profile_zone(write.attributes, config)
    morning = upcoming_birthday_morning(birthday, zone, config.birthday.local_hour, now)
    return index_key(morning, birthday, zone.key)


# A read-merge-write loses to a concurrent one now and then (two syncs of one profile); it reads again and retries.
UPSERT_ATTEMPTS = 5


def upsert(store: ProfileStore, write: ProfileWrite, config: Config, now: datetime) -> tuple[Profile, bool]:
    """Create or update a profile; returns it and whether it was created.

    The stored profile is read (strongly consistent), merged with the write here, and saved on the condition that
    nobody wrote it meanwhile; so an unsubscribe that lands between the read and the save is never overwritten.
    Raises EmailTaken when another profile holds the address, ConsentWithdrawn (see merge).
    """
    for _ in range(UPSERT_ATTEMPTS):
        existing = store.get(write.profile_id, consistent=True)
        change = merge(existing, write, config, now)
        try:
            return store.save(change, now, existing)
        except ConcurrentUpdate:
            continue
    raise DependencyFailed("the profile is being changed by another request; please retry")
