"""The send gate. Every message on every channel passes here, in this order:

consent -> (suppression, frequency caps: later issues) -> render -> idempotency ledger -> provider.

The ledger reservation is a conditional write on the request's business key (`threshold#travel-offers#p1`,
`birthday#<morning>#p1`, `api#<key>#p1`). Rendering happens before it so a broken template leaves no
reservation behind. After the reservation only the provider call remains: if the worker dies during or after it,
the redelivered request finds the reservation and stops, so a message is never sent twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Protocol

from closedloop.errors import InvalidInput, ProviderRejected, ProviderThrottled
from closedloop.mail import OutgoingMail
from closedloop.ports import Ledger, Mailer, ProfileStore, SendQueue
from closedloop.profiles import Profile
from closedloop.tokens import new_message_id

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

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, body: str) -> SendRequest:
        data = json.loads(body)
        if not isinstance(data, dict) or not {"send_key", "profile_id", "template"} <= set(data):
            raise InvalidInput("a send request needs send_key, profile_id and template")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)


class Outcome(str, Enum):
    SENT = "sent"
    NO_PROFILE = "skipped_no_profile"
    NO_CONSENT = "skipped_no_consent"
    DUPLICATE = "skipped_duplicate"
    DEFERRED = "deferred_throttled"


class Renderer(Protocol):
    def render(self, request: SendRequest, profile: Profile) -> tuple[OutgoingMail, RenderedLinks]: ...


@dataclass(frozen=True)
class RenderedLinks:
    link_set: str
    links: list


def send(
    request: SendRequest,
    *,
    profiles: ProfileStore,
    ledger: Ledger,
    renderer: Renderer,
    mailer: Mailer,
    queue: SendQueue,
    now: datetime,
) -> Outcome:
    """Take one send request through the gate."""
    profile = profiles.get(request.profile_id)
    if profile is None:
        return Outcome.NO_PROFILE
    if not profile.subscribed:
        return Outcome.NO_CONSENT
    mail, links = renderer.render(request, profile)
    if links.links:
        ledger.put_link_set(links.link_set, links.links)
    if not ledger.reserve_send(request.send_key, request.message_id, now):
        return Outcome.DUPLICATE
    try:
        provider_id = mailer.send(mail)
    except ProviderThrottled:
        # SES drops what it throttles: nothing went out, so free the key and come back later.
        ledger.release_send(request.send_key)
        delay = THROTTLE_DELAYS[min(request.throttled, len(THROTTLE_DELAYS) - 1)]
        queue.enqueue([replace(request, throttled=request.throttled + 1)], delay_seconds=delay)
        return Outcome.DEFERRED
    except ProviderRejected:
        # Refused outright (bad address, unverified sender): not sent, so a retry after a fix may send it.
        ledger.release_send(request.send_key)
        raise
    ledger.mark_sent(request.send_key, provider_id, now)
    return Outcome.SENT
