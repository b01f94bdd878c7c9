"""Double opt-in: a sign-up asks for a confirmation mail; the person's own confirmation subscribes them.

POST /subscribe answers the same whatever the address's state, so it tells nobody who is subscribed. What it does:

    new address            -> a `pending` profile (first name, topics) and the confirm mail
    pending / unsubscribed -> the confirm mail (a pending profile takes the new first name and topics)
    subscribed             -> nothing
    suppressed             -> the confirm mail is queued, and the send gate skips it
    honeypot filled        -> nothing

At most CONFIRMATION_MAILS confirm mails go to one address in any CONFIRMATION_WINDOW (closedloop.ports.Signups).
The confirm mail is transactional: the address is not subscribed yet, and the mail is what the person asked for.

GET /c/{token} only shows the page (scanners prefetch links); POST /c/{token} subscribes with the proof (IP, user
agent, the sentence the page showed), lifts a withdrawal (only the person's own opt-in may), publishes
`signup.confirmed` and queues the welcome mail under the business key `welcome#<profile>`, so it goes out once.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import NamedTuple

from closedloop.config import Config
from closedloop.errors import ConcurrentUpdate, DependencyFailed, EmailTaken, InvalidInput
from closedloop.ports import EventPublisher, ProfileStore, SendQueue, Signups, Suppressions
from closedloop.profiles import (
    MAX_ATTRIBUTE_LENGTH,
    UPSERT_ATTEMPTS,
    Profile,
    ProfileWrite,
    check_topics,
    consent_record,
    merge,
    subscribed_by_the_person,
)
from closedloop.sending import SendRequest
from closedloop.suppression import ErasureKeys, lift_erasure
from closedloop.tokens import ConfirmToken, TokenSigner, new_message_id
from closedloop.validation import LINE_BREAKS, is_email, normalise_email

CONFIRMATION_MAILS = 3
CONFIRMATION_WINDOW = timedelta(hours=24)
SIGNUP_SOURCE = "subscribe_form"  # the consent source of a profile a sign-up created: pending, not consent yet
CONFIRMED_EVENT = "signup.confirmed"
MAX_PROOF_LENGTH = 512
FIELDS = {"email", "first_name", "topics", "website"}
_SPACES = re.compile(f"[\\s{''.join(LINE_BREAKS)}]+")


class SignupRequest(NamedTuple):
    email: str  # normalised
    first_name: str | None
    topics: tuple[str, ...] | None  # None: every topic
    honeypot: bool


def parse_signup(fields: dict[str, list[str]], config: Config, *, strict: bool) -> SignupRequest:
    """The sign-up form's fields. `strict` (a JSON caller) refuses unknown fields; a site's form may carry its own."""
    from closedloop.web_forms import one

    if strict and set(fields) - FIELDS:
        raise InvalidInput(f"unknown field(s): {', '.join(sorted(set(fields) - FIELDS))[:200]}")
    honeypot = bool(one(fields, "website").strip())
    if honeypot:
        return SignupRequest("", None, None, True)  # answered like any sign-up; nothing else is looked at
    email = one(fields, "email").strip()
    if not is_email(email):
        raise InvalidInput("email must be an address like ada@example.com (ASCII, one address)")
    # A name is one line: line breaks and runs of spaces become one space (a paste, or a header-splitting attempt).
    first_name = _SPACES.sub(" ", one(fields, "first_name")).strip() or None
    if first_name and len(first_name) > MAX_ATTRIBUTE_LENGTH:
        raise InvalidInput(f"first_name is longer than {MAX_ATTRIBUTE_LENGTH} characters")
    chosen = [topic for topic in fields.get("topics", []) if topic]
    topics = check_topics(tuple(dict.fromkeys(chosen)), config) if chosen else None
    return SignupRequest(normalise_email(email), first_name, topics, False)


def subscribe(
    request: SignupRequest,
    *,
    profiles: ProfileStore,
    signups: Signups,
    queue: SendQueue,
    signer: TokenSigner,
    config: Config,
    base_url: str,
    now: datetime,
) -> tuple[str, str | None]:
    """Do what the sign-up calls for; returns what happened (for the log, never for the answer) and the profile id."""
    if request.honeypot:
        return "honeypot", None
    profile = _profile_for(request, profiles, config, now)
    if profile.subscribed:
        return "already_subscribed", profile.profile_id
    window = int(CONFIRMATION_WINDOW.total_seconds())
    if not signups.take_confirmation_slot(request.email, now, CONFIRMATION_MAILS, window):
        return "limited", profile.profile_id
    expires = int((now + timedelta(days=config.double_opt_in.link_valid_days)).timestamp())
    token = signer.confirm(profile.profile_id, request.email, expires, request.topics)
    message_id = new_message_id()
    confirm_mail = SendRequest(
        send_key=f"confirm#{message_id}",
        profile_id=profile.profile_id,
        template=config.double_opt_in.confirm_template,
        message_id=message_id,
        context={"confirm_url": f"{base_url}/c/{token}", "link_valid_days": config.double_opt_in.link_valid_days},
        transactional=True,
    )
    queue.enqueue([confirm_mail])
    return "confirmation_queued", profile.profile_id


def _profile_for(request: SignupRequest, profiles: ProfileStore, config: Config, now: datetime) -> Profile:
    """The profile holding the address: created `pending` if there is none; a pending one takes name and topics."""
    attributes = {"first_name": request.first_name} if request.first_name else {}
    for _ in range(UPSERT_ATTEMPTS):
        existing = profiles.find_by_email(request.email)
        if existing is not None and (existing.status != "pending" or not (attributes or request.topics)):
            return existing
        profile_id = existing.profile_id if existing else f"sub-{uuid.uuid4().hex[:20]}"
        email = None if existing else request.email
        change = merge(existing, ProfileWrite(profile_id, email, None, attributes, request.topics), config, now)
        if existing is None:
            change = change._replace(consent=consent_record(SIGNUP_SOURCE, now))
        try:
            return profiles.save(change, now, existing)[0]
        except (ConcurrentUpdate, EmailTaken):
            continue  # a concurrent sign-up (or sync) of the same address: read it again
    raise DependencyFailed("the profile is being changed by another request; please retry")


def current_profile(token: ConfirmToken, profiles: ProfileStore, signer: TokenSigner) -> Profile | None:
    """The profile a confirm link names, if it still holds the address the link was sent to."""
    profile = profiles.get(token.profile_id, consistent=True)
    if profile is None or not signer.matches_address(token, normalise_email(profile.email)):
        return None
    return profile


def confirm(
    token: ConfirmToken,
    token_text: str,
    proof: dict[str, str],
    *,
    profiles: ProfileStore,
    signups: Signups,
    queue: SendQueue,
    publisher: EventPublisher,
    signer: TokenSigner,
    suppressions: Suppressions,
    erasure: ErasureKeys,
    config: Config,
    now: datetime,
) -> Profile | None:
    """Subscribe the person with the proof of their consent; None when the link no longer names their address.

    A confirmation is claimed by its link, so a second POST of the same link subscribes, publishes and sends
    nothing new; an attempt that broke off after the claim is finished by the next one.
    """
    from closedloop.messages import derived_id

    profile = current_profile(token, profiles, signer)
    if profile is None:
        return None
    key = f"{token.profile_id}#{derived_id(token_text)}"
    if signups.claim_confirmation(key, now) == "published":
        return profile
    _lift_suppression_for_own_opt_in(profile, suppressions, erasure)
    consent = consent_record(
        "double_opt_in",
        now,
        ip=proof.get("ip", "")[:MAX_PROOF_LENGTH],
        user_agent=proof.get("user_agent", "")[:MAX_PROOF_LENGTH],
        text=config.double_opt_in.consent_text,
    )
    profile = _subscribe_by_the_person(profile, profiles, config, now, consent, token.topics)
    publisher.publish(CONFIRMED_EVENT, {"profile_id": profile.profile_id, "topics": profile.topics})
    welcome = SendRequest(
        send_key=f"welcome#{profile.profile_id}",
        profile_id=profile.profile_id,
        template=config.double_opt_in.welcome_template,
    )
    queue.enqueue([welcome])
    signups.mark_confirmation_published(key)
    return profile


def _subscribe_by_the_person(
    profile: Profile, profiles: ProfileStore, config: Config, now: datetime, consent: dict, topics
) -> Profile:
    for _ in range(UPSERT_ATTEMPTS):
        if profile.subscribed and (profile.consent or {}).get("source") == "double_opt_in":
            return profile  # confirmed already (another link of theirs, or a concurrent POST)
        change = subscribed_by_the_person(profile, config, now, consent, topics)
        try:
            return profiles.save(change, now, profile)[0]
        except ConcurrentUpdate:
            profile = profiles.get(profile.profile_id, consistent=True) or profile
    raise DependencyFailed("the profile is being changed by another request; please retry")


def _lift_suppression_for_own_opt_in(profile: Profile, suppressions: Suppressions, erasure: ErasureKeys) -> None:
    """The one place the person's own confirmation lifts what blocks their address: the keyed hash an erasure left
    (`erased`). Bounces and complaints are not lifted: the mailbox refused mail, whatever the person clicked."""
    lift_erasure(normalise_email(profile.email), suppressions, erasure)
