"""GDPR: export everything stored about a person, and erase it.

What is stored about a person: the profile (attributes, consent, aggregates, interests), activity (events, clicks,
opens), ledger records that name the profile (its address claim, message statuses, send keys, threshold claims),
messages held by a sending pause, and what is kept by their address (the suppression entry, transient bounces).
closedloop.ports.PersonalRecords reads and deletes all but the profile item, page by page.

An erasure runs in an order that makes a crash safe to repeat:

1. the keyed hash of the address goes on the suppression list (`erased`) first, so nothing can be sent to the
   address while the rest is deleted, nor ever after: an import does not bring the person back, their own new
   double opt-in does (closedloop.suppression.lift_erasure);
2. every record is deleted;
3. the profile item goes last: until then a repeated DELETE finds the profile and finishes the job (afterwards it
   answers 404, and nothing is left to do);
4. one more sweep catches an activity recorded while step 2 ran (a click needs the profile, gone after step 3).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from closedloop.clock import isoformat
from closedloop.errors import ProfileNotFound
from closedloop.profiles import Profile, validate_profile_id
from closedloop.suppression import ErasureKeys, blocked, erase_address
from closedloop.validation import normalise_email

if TYPE_CHECKING:
    from closedloop.ports import PersonalRecords, ProfileStore, Suppressions


class Record(NamedTuple):
    """One stored record about a person. `store` and `key` locate it for the adapter; `kind` and `data` are what
    an export shows."""

    store: str  # activity | ledger | held
    key: str
    kind: str  # click | open | event | <another activity kind> | email_claim | message | send | threshold | held |
    # suppression | bounces
    data: dict


# Where each kind of record appears in an export; activity kinds not named here go to "activity".
SECTIONS = {
    "event": "events",
    "click": "clicks",
    "open": "opens",
    "message": "sends",
    "send": "sends",
    "held": "held",
    "threshold": "thresholds",
    "bounces": "bounces",
    "deferred": "deferred",
}
ACTIVITY_STORE = "activity"


def _profile(profile_id: str, profiles: ProfileStore) -> Profile:
    profile = profiles.get(validate_profile_id(profile_id), consistent=True)
    if profile is None:
        raise ProfileNotFound(f"no profile with id {profile_id!r}")
    return profile


def export(
    profile_id: str,
    *,
    profiles: ProfileStore,
    records: PersonalRecords,
    suppressions: Suppressions,
    erasure: ErasureKeys,
    now: datetime,
) -> dict:
    """GET /v1/profiles/{id}/export: everything stored about the person, as JSON."""
    profile = _profile(profile_id, profiles)
    address = normalise_email(profile.email)
    entry = blocked(address, suppressions, erasure)
    answer: dict = {
        "profile_id": profile.profile_id,
        "exported_at": isoformat(now),
        "profile": profile.to_api(),
        "consent": profile.consent,
        "suppression": entry.to_api() if entry else None,
        "email_claim": None,
        "events": [],
        "clicks": [],
        "opens": [],
        "activity": [],
        "sends": [],
        "held": [],
        "thresholds": [],
        "bounces": [],
        "deferred": [],  # messages waiting for the frequency cap or quiet hours
    }
    sends: dict[str, dict] = {}  # message id -> its entry in "sends": the status, with the send key's record
    for record in records.records(profile.profile_id, address):
        if record.kind == "email_claim":
            answer["email_claim"] = record.data
        elif record.kind == "suppression":
            continue  # shown as "suppression" above, with an erased entry if there is one
        elif record.kind in ("message", "send"):
            _merge_send(sends, record)
        elif record.kind in SECTIONS or record.store == ACTIVITY_STORE:
            answer[SECTIONS.get(record.kind, "activity")].append(record.data)
        else:  # a record another feature keeps under the profile id
            answer.setdefault("other", []).append({"kind": record.kind, **record.data})
    answer["sends"] = sorted(sends.values(), key=lambda s: (s.get("updated_at") or s.get("at") or "", s["message_id"]))
    return answer


def _merge_send(sends: dict[str, dict], record: Record) -> None:
    """A message's status and its send key's record are one entry of "sends"."""
    message_id = record.data.get("message_id") or record.key
    entry = sends.setdefault(message_id, {"message_id": message_id})
    if record.kind == "message":
        entry.update(record.data)
    else:
        entry["send_key"] = record.data.get("send_key")
        entry["send_state"] = record.data.get("state")
        entry.setdefault("at", record.data.get("at"))


def erase(
    profile_id: str,
    *,
    profiles: ProfileStore,
    records: PersonalRecords,
    suppressions: Suppressions,
    erasure: ErasureKeys,
    now: datetime,
) -> int:
    """DELETE /v1/profiles/{id}: erase the person (see the module docstring for the order); records deleted."""
    profile = _profile(profile_id, profiles)
    address = normalise_email(profile.email)
    erase_address(suppressions, address, erasure, now)
    deleted = records.forget(records.records(profile.profile_id, address))
    records.forget_profile(profile.profile_id)
    return deleted + records.forget(records.records(profile.profile_id, address))
