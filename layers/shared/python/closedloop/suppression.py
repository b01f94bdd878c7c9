"""The suppression list: addresses that receive no marketing mail, whatever their profile says.

An entry is keyed by the normalised address (closedloop.validation.normalise_email), not by profile: a bounce or a
complaint concerns the mailbox, and it must hold for any profile that later claims the address. The send gate
refuses a suppressed address (closedloop.sending); SES feedback adds entries (closedloop.feedback); an integrator
reads, adds and lifts them through the admin API (closedloop.api.suppressions).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from closedloop.clock import isoformat
from closedloop.errors import InvalidInput, SuppressionNotFound
from closedloop.validation import is_email, normalise_email

if TYPE_CHECKING:
    from closedloop.ports import Suppressions

# Why an address is suppressed. `bounce` and `complaint` come from SES feedback, `manual` from the admin API.
REASONS = ("bounce", "complaint", "manual")


class Suppression(NamedTuple):
    address: str  # normalised
    reason: str
    at: str  # ISO 8601 instant

    def to_api(self) -> dict:
        return {"reason": self.reason, "at": self.at}


def parse_address(text: object) -> str:
    """An address from outside, checked and normalised; InvalidInput if SES would not take it."""
    if not isinstance(text, str) or not is_email(text.strip()):
        raise InvalidInput("give an address like ada@example.com (ASCII, one address)")
    return normalise_email(text)


def parse_reason(body: object) -> str:
    """The reason of a PUT /v1/suppressions/{email} body: {} or {"reason": "manual"} (default manual)."""
    if body is None:
        return "manual"
    if not isinstance(body, dict) or set(body) - {"reason"}:
        raise InvalidInput('the body must be {} or {"reason": "manual"}')
    reason = body.get("reason", "manual")
    if reason not in REASONS:
        raise InvalidInput(f"reason must be one of {', '.join(REASONS)}")
    return reason


def suppress(store: Suppressions, address: str, reason: str, now: datetime, *, keep_first: bool = False) -> bool:
    """Suppress a normalised address. With keep_first an existing entry stands (its reason and instant are the
    first cause); False then. A manual entry replaces what was there."""
    return store.put(Suppression(address, reason, isoformat(now)), only_if_new=keep_first)


def by_hand(store: Suppressions, address: str, reason: str, now: datetime) -> Suppression:
    """An integrator's entry: it replaces whatever was there."""
    entry = Suppression(address, reason, isoformat(now))
    store.put(entry)
    return entry


def entry(store: Suppressions, address: str) -> Suppression:
    found = store.get(address)
    if found is None:
        raise SuppressionNotFound("this address is not suppressed")
    return found


def lift(store: Suppressions, address: str) -> None:
    if not store.delete(address):
        raise SuppressionNotFound("this address is not suppressed")


def of_profile_address(store: Suppressions, email: str | None) -> dict | None:
    """What GET /v1/profiles shows as `suppression`: None or {"reason", "at"}."""
    if not email:
        return None
    found = store.get(normalise_email(email))
    return found.to_api() if found else None
