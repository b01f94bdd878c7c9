"""The profiles table read as parallel scan segments (closedloop.ports.ProfileScan).

Low-level Scan pages, each item turned into a Profile by the same conversion as a GetItem (`_to_profile`), so a
segment sees exactly the profile the send gate will see. The item's DynamoDB types are read by `plain` below rather
than by pynamodb's model: building a model instance cost 140 µs per profile, which would make a preview of a
million profiles take minutes of CPU; this takes a tenth of that. Eventually consistent: a scan is a snapshot of
who is in a group; the gate reads each recipient again, strongly, before sending.
"""

from __future__ import annotations

import json
from functools import cached_property

from closedloop.adapters.activity import _client
from closedloop.adapters.dynamo import _to_profile
from closedloop.profiles import Profile
from closedloop.settings import Settings


class DynamoProfileScan:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return _client()

    def scan_page(
        self, segment: int, total_segments: int, start: dict | None, limit: int, fields: frozenset[str] | None = None
    ) -> tuple[list[Profile], dict | None]:
        request = {
            "TableName": self._settings.profiles_table,
            "Segment": segment,
            "TotalSegments": total_segments,
            "Limit": limit,
        }
        if fields is not None:
            request.update(projection(fields | ALWAYS))
        if start:
            request["ExclusiveStartKey"] = start
        page = self._client.scan(**request)
        profiles = [_to_profile(_Item(item)) for item in page.get("Items", [])]
        return profiles, page.get("LastEvaluatedKey") or None


# What every scanned profile carries, whatever the rules read: who it is and whether it may be targeted.
ALWAYS = frozenset({"profile_id", "email", "status"})


def projection(fields: frozenset[str]) -> dict:
    """ProjectionExpression and its names for dotted paths (`attributes.country`): every part is a placeholder,
    since profile fields such as `status` are DynamoDB reserved words."""
    names: dict[str, str] = {}

    def placeholder(part: str) -> str:
        return names.setdefault(part, f"#f{len(names)}")

    paths = [".".join(placeholder(part) for part in field.split(".", 1)) for field in sorted(fields)]
    return {"ProjectionExpression": ", ".join(paths), "ExpressionAttributeNames": {v: k for k, v in names.items()}}


class _Item:
    """A low-level item read the way `_to_profile` reads a model: attributes by name, None when absent."""

    __slots__ = ("_item",)

    def __init__(self, item: dict) -> None:
        self._item = item

    def __getattr__(self, name: str):
        value = self._item.get(name)
        return None if value is None else plain(value)


def plain(value: dict):
    """A DynamoDB attribute value as pynamodb's untyped attributes give it (numbers as int or float, as
    `json.loads` reads them)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        return json.loads(inner)
    if kind == "M":
        return {k: plain(v) for k, v in inner.items()}
    if kind == "L":
        return [plain(v) for v in inner]
    if kind == "SS":
        return set(inner)
    if kind == "NS":
        return {json.loads(n) for n in inner}
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    raise ValueError(f"a profile holds no {kind} attributes")
