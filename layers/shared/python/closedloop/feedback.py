"""SES feedback: what a bounce or a complaint does to the suppression list and to the profile.

SES publishes the configuration set's events to the account's default EventBridge bus; functions/feedback receives
Bounce, Complaint, Delivery, Reject and DeliveryDelay events and hands their `detail` here. The rules:

- a permanent bounce suppresses the address at once (reason `bounce`);
- a transient bounce is remembered per address, idempotently by the mail's SES message id; the third within
  TRANSIENT_WINDOW suppresses the address (reason `bounce`);
- a complaint suppresses the address (reason `complaint`) and unsubscribes the profile holding it, with consent
  source `complaint` (an integrator cannot subscribe it again: closedloop.profiles.WITHDRAWN_BY_PERSON);
- anything else (deliveries, rejects, delays) changes nothing.

The first cause of a suppression stands: a redelivered event or a later complaint does not rewrite it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from closedloop.clock import parse_instant
from closedloop.errors import InvalidInput
from closedloop.ports import ProfileStore, Suppressions
from closedloop.profiles import consent_record
from closedloop.suppression import suppress
from closedloop.validation import is_email, normalise_email

TRANSIENT_LIMIT = 3
TRANSIENT_WINDOW = timedelta(days=30)


class Feedback(NamedTuple):
    kind: str  # bounce_permanent | bounce_transient | complaint | ignored (delivery, reject, delay, ...)
    mail_id: str  # SES's message id of the mail the event is about
    recipients: tuple[str, ...]  # normalised addresses the event concerns
    at: datetime | None  # when the bounce or complaint happened, as SES says


def parse(detail: object) -> Feedback:
    """The `detail` of an SES EventBridge event (the event publishing record: eventType, mail, bounce, ...)."""
    if not isinstance(detail, dict) or not isinstance(detail.get("mail"), dict):
        raise InvalidInput("an SES event detail needs eventType and mail")
    event_type = detail.get("eventType") or detail.get("notificationType")
    mail_id = str(detail["mail"].get("messageId") or "")
    if event_type == "Bounce":
        bounce = detail.get("bounce") or {}
        kind = "bounce_permanent" if bounce.get("bounceType") == "Permanent" else "bounce_transient"
        # Undetermined bounces are treated as transient: they count, but one alone suppresses nothing.
        return Feedback(kind, mail_id, _addresses(bounce.get("bouncedRecipients")), _instant(bounce))
    if event_type == "Complaint":
        complaint = detail.get("complaint") or {}
        return Feedback("complaint", mail_id, _addresses(complaint.get("complainedRecipients")), _instant(complaint))
    return Feedback("ignored", mail_id, (), None)


def _addresses(recipients: object) -> tuple[str, ...]:
    found = []
    for recipient in recipients if isinstance(recipients, list) else []:
        address = recipient.get("emailAddress") if isinstance(recipient, dict) else None
        # SES may name a recipient with a display name ("Ada <ada@example.com>"); keep the address part.
        if isinstance(address, str):
            address = address.rpartition("<")[2].rstrip(">").strip()
            if is_email(address):
                found.append(normalise_email(address))
    return tuple(dict.fromkeys(found))


def _instant(part: dict) -> datetime | None:
    try:
        return parse_instant(str(part["timestamp"]))
    except (KeyError, ValueError):
        return None


class Handled(NamedTuple):
    kind: str
    suppressed: int  # addresses newly suppressed
    unsubscribed: list[str]  # profile ids (never addresses: they are not logged)


def handle(feedback: Feedback, suppressions: Suppressions, profiles: ProfileStore, now: datetime) -> Handled:
    """Apply one SES event's feedback. Idempotent: a redelivered event changes nothing more."""
    at = feedback.at or now
    suppressed, unsubscribed = 0, []
    for address in feedback.recipients:
        if feedback.kind == "bounce_permanent":
            suppressed += suppress(suppressions, address, "bounce", now, keep_first=True)
        elif feedback.kind == "bounce_transient":
            if counts_as_undeliverable(address, feedback.mail_id, at, suppressions):
                suppressed += suppress(suppressions, address, "bounce", now, keep_first=True)
        elif feedback.kind == "complaint":
            suppressed += suppress(suppressions, address, "complaint", now, keep_first=True)
            profile = profiles.find_by_email(address)
            if profile is not None:
                profiles.set_status(profile.profile_id, "unsubscribed", now, consent_record("complaint", now))
                unsubscribed.append(profile.profile_id)
    return Handled(feedback.kind, suppressed, unsubscribed)


def counts_as_undeliverable(address: str, mail_id: str, at: datetime, suppressions: Suppressions) -> bool:
    """Record a transient bounce; True once TRANSIENT_LIMIT different mails bounced within TRANSIENT_WINDOW."""
    expires_at = int((at + TRANSIENT_WINDOW).timestamp())
    seen = suppressions.note_transient_bounce(address, mail_id or f"unknown-{at.isoformat()}", at, expires_at)
    recent = [instant for instant in seen.values() if at - TRANSIENT_WINDOW < parse_instant(instant) <= at]
    return len(recent) >= TRANSIENT_LIMIT
