"""INTERIM, delete at merge: stand-ins for the lead's ProfileScan, SegmentStore and closedloop.audience.targets,
so the campaigns branch runs end to end before those land. closedloop.services uses them only when the real ones
(`profile_scan()`, `segment_store()`, `closedloop.audience`) are missing."""

from __future__ import annotations

import json

from closedloop.adapters.dynamo import _to_profile, profile_model
from closedloop.settings import Settings


class InterimProfileScan:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def scan_page(self, segment: int, total_segments: int, start: dict | None, limit: int):
        model = profile_model(self._settings.profiles_table)
        results = model.scan(
            segment=segment,
            total_segments=total_segments,
            limit=limit,
            last_evaluated_key=start,
            consistent_read=True,
        )
        profiles = [_to_profile(item) for item in results]
        last = results.last_evaluated_key
        return profiles, (json.loads(json.dumps(last)) if last else None)


class InterimSegmentStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def get(self, segment_id: str) -> dict | None:
        import boto3

        item = (
            boto3.client("dynamodb")
            .get_item(
                TableName=self._settings.campaigns_table,
                Key={"pk": {"S": f"segment#{segment_id}"}, "sk": {"S": "definition"}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        if not item:
            return None
        return {"id": segment_id, "rules": json.loads(item["rules"]["S"]) if "rules" in item else {}}


def targets(profiles, segment, suppressions, now):
    """Subscribed and matching (the send gate still refuses suppressed addresses)."""
    return [p for p in profiles if p.subscribed and (segment is None or segment.matches(p, now))]
