"""Segments a marketer saves by id (`PUT /v1/segments/{id}`): a name and rules, checked before they are stored.

A campaign names a saved segment and reads it when it is sent, so a segment is always evaluated as it stands then;
the rule language is closedloop.segments.
"""

from __future__ import annotations

import re
from datetime import datetime

from closedloop import segments
from closedloop.clock import isoformat
from closedloop.errors import InvalidInput, SegmentNotFound
from closedloop.ports import SegmentStore
from closedloop.validation import has_line_break

SEGMENT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_NAME = 200


def check_id(segment_id: str) -> str:
    if not SEGMENT_ID.match(segment_id):
        raise InvalidInput(
            "a segment id is 1 to 64 lower-case letters, digits, '_' or '-', starting with a letter or digit"
        )
    return segment_id


def parse_write(body: dict) -> tuple[str, dict]:
    """The name and the checked rules of a PUT body; InvalidInput names what is wrong."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME or has_line_break(name):
        raise InvalidInput(f"name: give the segment a name of 1 to {MAX_NAME} characters on one line")
    if "rules" not in body:
        raise InvalidInput(
            'rules: give the rules, e.g. {"all": [{"field": "status", "op": "==", "value": "subscribed"}]}'
        )
    segments.parse(body["rules"])
    return name.strip(), body["rules"]


def save(store: SegmentStore, segment_id: str, body: dict, now: datetime) -> tuple[dict, bool]:
    """Store the segment under its id (replacing what was there); True when it is new."""
    check_id(segment_id)
    name, rules = parse_write(body)
    return store.put(segment_id, name, rules, isoformat(now))


def get(store: SegmentStore, segment_id: str) -> dict:
    found = store.get(check_id(segment_id))
    if found is None:
        raise SegmentNotFound(f"no segment named {segment_id!r}")
    return found


def load(store: SegmentStore, segment_id: str) -> segments.Segment:
    """The saved segment, ready to evaluate (a campaign's audience)."""
    return segments.parse(get(store, segment_id)["rules"])
