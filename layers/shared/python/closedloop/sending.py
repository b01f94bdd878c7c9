"""The send gate. Every message on every channel passes here, in this order:

consent -> topic -> suppression and pause (one read) -> quiet hours and frequency cap (capped messages only,
closedloop.pacing) -> render and build MIME -> idempotency ledger -> provider. Transactional mail (a confirmation
the person asked for) skips consent, topic, pause and the cap, and passes an erasure's hash; a bounce or complaint
refuses it too.

Everything that can fail without the provider happens before the ledger reservation, so a broken template or an
unwritable header leaves nothing behind and is recorded as the message's outcome, never retried. After the
reservation only the provider call remains (ARCHITECTURE.md, "The send gate", tells each outcome's story).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple, Protocol

from closedloop.clock import isoformat
from closedloop.errors import (
    HeaderInjection,
    InvalidInput,
    ProviderRejected,
    ProviderThrottled,
    ProviderUnavailable,
    TemplateError,
    TemplateNotFound,
)
from closedloop.mail import OutgoingMail
from closedloop.ports import (
    Ledger,
    LinkSets,
    Mailer,
    MessageStatus,
    ProfileStore,
    SendingControl,
    SendQueue,
    Suppressions,
)
from closedloop.profiles import Profile
from closedloop.suppression import ERASED, ErasureKeys, screen
from closedloop.tokens import new_message_id
from closedloop.validation import normalise_email
from closedloop.values import CampaignRef

if TYPE_CHECKING:
    from closedloop.pacing import Pacing

# Throttled sends come back after 30 s, 60 s, ... up to SQS's 15-minute delay limit, however often it takes.
THROTTLE_DELAYS = (30, 60, 120, 300, 600, 900)


@dataclass(frozen=True)
class SendRequest:
    send_key: str
    profile_id: str
    template: str
    message_id: str = field(default_factory=new_message_id)
    context: dict = field(default_factory=dict)
    throttled: int = 0
    # The subscription topic a marketing message belongs to (the gate refuses it to people who left the topic).
    topic: str | None = None
    # A message the person asked for (a confirmation, a receipt): sent whatever their marketing consent, never
    # held by a sending pause; suppression still applies (the mailbox bounced or complained).
    transactional: bool = False
    # A campaign's message: which campaign, stage and variant (its statistics, SES tags and links name them).
    campaign: CampaignRef | None = None
    # The frequency cap and quiet hours apply (campaigns; automations that opt in; POST /v1/messages "capped").
    # Transactional mail is exempt even when capped.
    capped: bool = False
    # Replaces the template's subject (an A/B variant's); rendered in the same sandbox with the same variables.
    subject: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, body: str) -> SendRequest:
        try:
            data = json.loads(body)
        except ValueError as error:
            raise InvalidInput("a send request must be JSON") from error
        if not isinstance(data, dict) or not {"send_key", "profile_id", "template"} <= set(data):
            raise InvalidInput("a send request needs send_key, profile_id and template")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        if known.get("campaign") is not None:
            known["campaign"] = CampaignRef.from_dict(known["campaign"])
        return cls(**known)


class Outcome(str, Enum):
    SENT = "sent"
    NO_PROFILE = "skipped_no_profile"
    NO_CONSENT = "skipped_no_consent"
    TOPIC_LEFT = "skipped_topic"
    SUPPRESSED = "skipped_suppressed"
    DUPLICATE = "skipped_duplicate"
    HELD = "held"
    DEFERRED = "deferred_throttled"
    DEFERRED_QUIET = "deferred_quiet"
    DEFERRED_CAPPED = "deferred_capped"
    FAILED_RENDER = "failed_render"
    FAILED_REJECTED = "failed_rejected"
    POSSIBLY_SENT = "possibly_sent"
    CANCELLED = "skipped_cancelled"  # its campaign was cancelled (closedloop.dispatch.gate)


class SendResult(NamedTuple):
    outcome: Outcome
    reason: str | None = None


class Renderer(Protocol):
    def exists(self, template: str) -> bool: ...

    def render(
        self, request: SendRequest, profile: Profile, now: datetime | None = None
    ) -> tuple[OutgoingMail, RenderedLinks]: ...


@dataclass(frozen=True)
class RenderedLinks:
    link_set: str
    links: list
    # The offer ids the mail shows (closedloop.offers): added to the profile's offers_sent when it is marked sent.
    offers: tuple[str, ...] = ()
    # A campaign's message: its link set names the campaign, stage and variant (closedloop.campaign_stats).
    campaign: CampaignRef | None = None


def send(
    request: SendRequest,
    *,
    profiles: ProfileStore,
    suppressions: Suppressions,
    ledger: Ledger,
    link_sets: LinkSets,
    renderer: Renderer,
    mailer: Mailer,
    queue: SendQueue,
    now: datetime,
    erasure: ErasureKeys | None = None,
    control: SendingControl | None = None,
    pacing: Pacing | None = None,
) -> SendResult:
    """Take one send request through the gate. Raises only when a retry of the whole request may help.

    `erasure` lets the gate recognise erased addresses by their keyed hash; `control` holds marketing mail while
    sending is paused; `pacing` defers capped messages (quiet hours, frequency cap). functions/sender passes all."""

    def status(state: str, reason: str | None = None, provider_id: str | None = None) -> MessageStatus:
        return MessageStatus(
            request.message_id, request.profile_id, request.template, state, isoformat(now), reason, provider_id
        )

    def finished(outcome: Outcome, state: str, reason: str) -> SendResult:
        ledger.put_message_status(status(state, reason))
        return SendResult(outcome, reason)

    # Strongly consistent: an unsubscribe a moment ago must stop this send.
    profile = profiles.get(request.profile_id, consistent=True)
    if profile is None:
        return finished(Outcome.NO_PROFILE, "skipped", "no_profile")
    if not profile.subscribed and not request.transactional:
        return finished(Outcome.NO_CONSENT, "skipped", "no_consent")
    if request.topic and not request.transactional and not profile.receives(request.topic):
        return finished(Outcome.TOPIC_LEFT, "skipped", "topic_left")
    # A bounced, complaining or erased mailbox gets nothing, whichever profile holds the address; a sending pause
    # holds marketing mail. One strongly consistent BatchGetItem reads both (closedloop.suppression.screen).
    screened = screen(normalise_email(profile.email), suppressions, erasure)
    # An erased person who signs up again must get their confirmation: the erased hash keeps marketing (and
    # imports) away until their own confirmation lifts it; a bounce or complaint refuses every mail.
    if screened.entry is not None and not (request.transactional and screened.entry.reason == ERASED):
        return finished(Outcome.SUPPRESSED, "skipped", "suppressed")
    if screened.pause is not None and control is not None and not request.transactional:
        held = control.hold(request, screened.pause, status("held", "sending_paused"))
        if held == "duplicate":
            return SendResult(Outcome.DUPLICATE)  # an earlier attempt reserved the key: its status stands
        if held != "resumed":  # held (once, however often the queue delivers it); "resumed": send it now
            return SendResult(Outcome.HELD, "sending_paused")
    if pacing is not None and pacing.applies_to(request):
        deferral = pacing.admit(request, profile, now, queue)  # None: it holds a cap slot and goes now
        if deferral is not None:
            ledger.put_message_status(
                status("deferred", deferral.reason)._replace(deferred_until=isoformat(deferral.until))
            )
            return SendResult(deferral.outcome, deferral.reason)
    try:
        mail, links = renderer.render(request, profile, now)
        raw = mail.mime(now)
    except (TemplateError, TemplateNotFound, HeaderInjection) as error:
        return finished(Outcome.FAILED_RENDER, "failed", f"{error.code}: {error.message}")
    if links.links:
        link_sets.put(links.link_set, links.links, campaign=links.campaign)
    if not ledger.reserve_send(request.send_key, request.message_id, now, profile_id=request.profile_id):
        return SendResult(Outcome.DUPLICATE)  # the first attempt's status stands
    try:
        provider_id = mailer.send(mail, raw)
    except ProviderThrottled:
        # SES drops what it throttles: nothing went out, so free the key and come back later.
        ledger.release_send(request.send_key)
        delay = THROTTLE_DELAYS[min(request.throttled, len(THROTTLE_DELAYS) - 1)]
        queue.enqueue([replace(request, throttled=request.throttled + 1)], delay_seconds=delay)
        return SendResult(Outcome.DEFERRED)
    except ProviderUnavailable:
        # Provably not sent: free the key and let the queue deliver the request again (then its DLQ).
        ledger.release_send(request.send_key)
        raise
    except ProviderRejected as error:
        # Refused for good as it is (bad address, unverified sender): not sent; a later request may try again.
        ledger.release_send(request.send_key)
        return finished(Outcome.FAILED_REJECTED, "failed", f"{error.code}: {error.message}")
    except Exception as error:  # whatever it was, the request may have reached the provider
        # Never resend what may have gone out: keep the reservation and say so loudly (metric, alarm).
        reason = f"outcome unknown after {type(error).__name__}; not retried"
        ledger.mark_possibly_sent(request.send_key, status("possibly_sent", reason))
        return SendResult(Outcome.POSSIBLY_SENT, reason)
    ledger.mark_sent(
        request.send_key,
        status("sent", provider_id=provider_id),
        offers=links.offers,
        campaign=request.campaign,
    )
    return SendResult(Outcome.SENT)
