"""Saved segments in the campaigns table: `pk=segment#<id>, sk=definition`, the rules kept as JSON text (numbers
and empty lists come back exactly as they were sent, which DynamoDB's own types would not promise)."""

from __future__ import annotations

import json
from functools import cached_property

from closedloop.adapters.activity import _client
from closedloop.settings import Settings

DEFINITION = "definition"


def _key(segment_id: str) -> dict:
    return {"pk": {"S": f"segment#{segment_id}"}, "sk": {"S": DEFINITION}}


class DynamoSegmentStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return _client()

    def get(self, segment_id: str) -> dict | None:
        item = self._client.get_item(
            TableName=self._settings.campaigns_table, Key=_key(segment_id), ConsistentRead=True
        ).get("Item")
        return _segment(segment_id, item) if item else None

    def put(self, segment_id: str, name: str, rules: dict, now: str) -> tuple[dict, bool]:
        # One UpdateItem: created_at stays from the first save; the old values tell whether this one created it.
        answer = self._client.update_item(
            TableName=self._settings.campaigns_table,
            Key=_key(segment_id),
            UpdateExpression="SET #name = :name, #rules = :rules, updated_at = :now, "
            "created_at = if_not_exists(created_at, :now)",
            ExpressionAttributeNames={"#name": "name", "#rules": "rules"},  # both are reserved words
            ExpressionAttributeValues={
                ":name": {"S": name},
                ":rules": {"S": json.dumps(rules, separators=(",", ":"))},
                ":now": {"S": now},
            },
            ReturnValues="ALL_OLD",
        )
        old = answer.get("Attributes")
        created_at = old["created_at"]["S"] if old else now
        stored = {"id": segment_id, "name": name, "rules": rules, "created_at": created_at, "updated_at": now}
        return stored, not old


def _segment(segment_id: str, item: dict) -> dict:
    return {
        "id": segment_id,
        "name": item["name"]["S"],
        "rules": json.loads(item["rules"]["S"]),
        "created_at": item["created_at"]["S"],
        "updated_at": item["updated_at"]["S"],
    }
