"""Plain values that cross between the domain and its adapters: an activity, a link, a due entry, a status.

Apart from closedloop.ports (the interfaces) so the click path loads these without the protocol definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from closedloop.clock import isoformat, parse_instant


@dataclass(frozen=True)
class CampaignRef:
    """The campaign, stage and A/B variant a message belongs to. Its send request, its SES tags and its link set
    carry it, so a send, a delivery, an open and a click can each be counted where they happen."""

    id: str
    stage: str
    variant: str | None = None

    def tags(self) -> dict[str, str]:
        """SES message tags (ids are checked when the campaign is created: letters, digits, `_` and `-`)."""
        return {"campaign": self.id, "stage": self.stage, **({"variant": self.variant} if self.variant else {})}

    @classmethod
    def from_dict(cls, data: dict) -> CampaignRef:
        return cls(id=data["id"], stage=data["stage"], variant=data.get("variant"))


class Aggregates(NamedTuple):
    """What an integrator's event adds to its profile, applied in the same write as the event itself.

    `counters` are added: (map, key, amount), or (attribute, None, amount) for a top-level number. The latest-state
    fields move only if the event is at least as recent as what they hold: `last_purchase_at`; `cart` (the open
    cart, set by cart_updated); `clears_cart` (a purchase closes the cart it is newer than).
    """

    counters: tuple[tuple[str, str | None, float], ...] = ()
    last_purchase_at: str | None = None
    cart: dict | None = None
    clears_cart: bool = False


@dataclass(frozen=True)
class Activity:
    """Something a recipient did: a click, an open, an integrator's event. `activity_id` makes recording idempotent."""

    kind: str  # click | open | event
    activity_id: str
    profile_id: str
    occurred_at: datetime
    increments: dict[str, int] = field(default_factory=dict)
    details: dict = field(default_factory=dict)
    # Whether it counts as the recipient being active (opens do not: mail privacy proxies fetch every pixel).
    moves_last_activity: bool = True
    # An integrator's event's effect on the profile's aggregates (clicks and opens have none).
    aggregates: Aggregates | None = None
    # Why a click or open is a machine's, when that is clear at the door: head, honeypot, user_agent.
    bot_reason: str | None = None

    @property
    def key(self) -> str:
        """The sort key in the profile's partition, `<kind>#<id>`: the business key that makes recording idempotent.

        A click's key also names its message, so the clicks of one message are one query (bot scoring)."""
        if self.kind == "click":
            return f"click#{self.details['message_id']}#{self.activity_id}"
        return f"{self.kind}#{self.activity_id}"

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "activity_id": self.activity_id,
            "profile_id": self.profile_id,
            "occurred_at": isoformat(self.occurred_at),
            "increments": self.increments,
            "details": self.details,
            "moves_last_activity": self.moves_last_activity,
            "bot_reason": self.bot_reason,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Activity:
        return cls(
            kind=data["kind"],
            activity_id=data["activity_id"],
            profile_id=data["profile_id"],
            occurred_at=parse_instant(data["occurred_at"]),
            increments={str(k): int(v) for k, v in data.get("increments", {}).items()},
            details=data.get("details", {}),
            moves_last_activity=bool(data.get("moves_last_activity", True)),
            bot_reason=data.get("bot_reason"),
        )


class ClickRecord(NamedTuple):
    """One stored click of a message, as bot scoring reads it."""

    activity_id: str
    occurred_at: datetime
    link_no: int
    bot_reason: str | None  # decided at the door (head, honeypot, user_agent) or when it settled


class DueEntry(NamedTuple):
    profile_id: str
    due_key: str  # the index sort key as stored: the due instant, plus what the check needs to move it on


class MessageStatus(NamedTuple):
    """What became of one message: queued, sent, skipped, failed or possibly_sent, and why."""

    message_id: str
    profile_id: str
    template: str
    state: str
    at: str
    reason: str | None = None
    provider_message_id: str | None = None
    # A deferred message (frequency cap, quiet hours): the instant it is due to pass the send gate again.
    deferred_until: str | None = None

    def to_api(self) -> dict:
        answer = {
            "message_id": self.message_id,
            "profile_id": self.profile_id,
            "template": self.template,
            "state": self.state,
            "updated_at": self.at,
        }
        if self.reason:
            answer["reason"] = self.reason
        if self.provider_message_id:
            answer["ses_message_id"] = self.provider_message_id
        if self.deferred_until:
            answer["deferred_until"] = self.deferred_until
        return answer


class Link(NamedTuple):
    url: str
    actions: dict
