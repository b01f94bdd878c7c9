"""The suppression list: addresses that receive no marketing mail, whatever their profile says.

An entry is keyed by the normalised address (closedloop.validation.normalise_email), not by profile: a bounce or a
complaint concerns the mailbox, and it must hold for any profile that later claims the address. The send gate
refuses a suppressed address (closedloop.sending); SES feedback adds entries (closedloop.feedback); an integrator
reads, adds and lifts them through the admin API (closedloop.api.suppressions).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from closedloop.clock import isoformat
from closedloop.errors import InvalidInput, SuppressionNotFound
from closedloop.tokens import key_ring
from closedloop.validation import is_email, normalise_email

if TYPE_CHECKING:
    from closedloop.pause import Pause
    from closedloop.ports import Suppressions

# Why an address is suppressed. `bounce` and `complaint` come from SES feedback, `manual` from the admin API.
REASONS = ("bounce", "complaint", "manual")
# A GDPR erasure leaves only a keyed hash of the address on the list, with this reason (closedloop.privacy).
ERASED = "erased"


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


def entry(store: Suppressions, address: str, erasure: ErasureKeys | None = None) -> Suppression:
    found = blocked(address, store, erasure) if erasure else store.get(address)
    if found is None:
        raise SuppressionNotFound("this address is not suppressed")
    return found


def lift(store: Suppressions, address: str) -> None:
    if not store.delete(address):
        raise SuppressionNotFound("this address is not suppressed")


def of_profile_address(store: Suppressions, email: str | None, erasure: ErasureKeys | None = None) -> dict | None:
    """What GET /v1/profiles shows as `suppression`: None or {"reason", "at"} (with `erasure`: an erased entry too)."""
    if not email:
        return None
    address = normalise_email(email)
    found = blocked(address, store, erasure) if erasure else store.get(address)
    return found.to_api() if found else None


# --- erased addresses -------------------------------------------------------------------------------------------


class ErasureKeys(NamedTuple):
    """HMAC-SHA256 keys of erased addresses, by key id: `current` writes, every listed key is checked.

    An erased person's address must never be stored, yet must stay recognisable: the list keeps
    `erased:<key id>:<hex HMAC of the normalised address>`. Keep every key id for good: an entry made with a
    removed key no longer matches anybody.
    """

    current: str
    keys: dict[str, bytes]

    @classmethod
    def from_secret(cls, secret: dict[str, str]) -> ErasureKeys:
        current, keys = key_ring(secret, "erasure key")
        return cls(current=current, keys=keys)

    def entry_key(self, address: str, kid: str | None = None) -> str:
        """The suppression list key standing for this (normalised) address under one key (default: current)."""
        kid = kid or self.current
        digest = hmac.new(self.keys[kid], address.encode(), hashlib.sha256).hexdigest()
        return f"{ERASED}:{kid}:{digest}"

    def entry_keys(self, address: str) -> list[str]:
        """The keys under which an erasure of this address may be stored: one per key id, current first."""
        return [self.entry_key(address, kid) for kid in sorted(self.keys, key=lambda kid: kid != self.current)]


class Screen(NamedTuple):
    """What may stop a send to one address: the suppression entry refusing it (its own or its erased hash's)
    and the sending pause in force (None: sending runs)."""

    entry: Suppression | None
    pause: Pause | None


def screen(address: str, store: Suppressions, erasure: ErasureKeys | None) -> Screen:
    """The address's suppression entry, the entries of its erased hashes and the sending pause, in one strongly
    consistent read (the send gate's; see ARCHITECTURE.md "The sending pause")."""
    keys: Sequence[str] = (address, *(erasure.entry_keys(address) if erasure else ()))
    return store.screen(keys)


def blocked(address: str, store: Suppressions, erasure: ErasureKeys | None) -> Suppression | None:
    """THE check whether a normalised address may receive mail: the entry that refuses it, by the address itself
    (bounce, complaint, manual) or by its keyed hash (erased), else None. The send gate and the CSV import use it."""
    return screen(address, store, erasure).entry


def erase_address(store: Suppressions, address: str, erasure: ErasureKeys, now: datetime) -> bool:
    """Put the erased hash of a normalised address on the list (an existing one stands); False if it was there."""
    return store.put(Suppression(erasure.entry_key(address), ERASED, isoformat(now)), only_if_new=True)


def lift_erasure(address: str, store: Suppressions, erasure: ErasureKeys) -> bool:
    """Lift an erasure: the person's own new double opt-in (their confirm step) calls this, nothing else may.
    True if an erased entry of the address was removed."""
    return any([store.delete(key) for key in erasure.entry_keys(address)])
