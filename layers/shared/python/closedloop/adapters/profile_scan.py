"""The profiles table read as parallel scan segments (closedloop.ports.ProfileScan).

Low-level Scan pages, each item turned into a Profile through the same model and conversion as a GetItem, so a
segment sees exactly the profile the send gate will see. Eventually consistent: a scan is a snapshot of who is in
a group; the gate reads each recipient again, strongly, before sending.
"""

from __future__ import annotations

from functools import cached_property

from closedloop.adapters.activity import _client
from closedloop.adapters.dynamo import _to_profile, profile_model
from closedloop.profiles import Profile
from closedloop.settings import Settings


class DynamoProfileScan:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return _client()

    @cached_property
    def _model(self):
        return profile_model(self._settings.profiles_table)

    def scan_page(
        self, segment: int, total_segments: int, start: dict | None, limit: int
    ) -> tuple[list[Profile], dict | None]:
        request = {
            "TableName": self._settings.profiles_table,
            "Segment": segment,
            "TotalSegments": total_segments,
            "Limit": limit,
        }
        if start:
            request["ExclusiveStartKey"] = start
        page = self._client.scan(**request)
        profiles = [_to_profile(self._model.from_raw_data(item)) for item in page.get("Items", [])]
        return profiles, page.get("LastEvaluatedKey") or None
