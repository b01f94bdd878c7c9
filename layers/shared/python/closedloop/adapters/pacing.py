"""The frequency cap's slots (ledger table) and due items (the deferred table), on the low-level client.

`cap-slot#<profile>#<n>`: one item per slot, holding the instant it was taken, the send key that took it and the
profile (the `by_profile` index: a GDPR export or erasure finds it). A slot is taken with one conditional put (absent,
or taken before the window), asking DynamoDB for the item that made the condition fail
(ReturnValuesOnConditionCheckFailure): that tells, without a read, whether the send key already holds it and when
it frees. Slots expire (TTL) when their window has passed.

Due items: partition `shard`, sort key `due_key` (closedloop.due_items), the body and the profile id (the table's
`by_profile` index).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import cached_property

from botocore.exceptions import ClientError

from closedloop.adapters.activity import _client
from closedloop.clock import isoformat, parse_instant
from closedloop.due_items import DueItem, split_sort_key
from closedloop.settings import Settings

_PAGE = 100  # items per query page: a tick that stops early has read little beyond what it handed on


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def slot_key(profile_id: str, slot: int) -> str:
    return f"cap-slot#{profile_id}#{slot}"


class DynamoCapSlots:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return _client()

    def take(self, profile_id: str, send_key: str, now: datetime, slots: int, window_seconds: int) -> datetime | None:
        free_since = isoformat(now - timedelta(seconds=window_seconds))
        expires = int(now.timestamp()) + window_seconds
        in_use: list[datetime] = []
        for slot in range(slots):
            item = {
                "pk": {"S": slot_key(profile_id, slot)},
                "at": {"S": isoformat(now)},
                "send_key": {"S": send_key},
                "profile_id": {"S": profile_id},
                "expires_at": {"N": str(expires)},
            }
            try:
                self._client.put_item(
                    TableName=self._settings.ledger_table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk) OR #at <= :free",
                    ExpressionAttributeNames={"#at": "at"},
                    ExpressionAttributeValues={":free": {"S": free_since}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return None
            except ClientError as error:
                if not _conditional_failed(error):
                    raise
                held = error.response.get("Item", {})
            if held.get("send_key", {}).get("S") == send_key:
                return None  # a redelivery: this send already holds the slot
            in_use.append(parse_instant(held["at"]["S"]))
        return min(in_use) + timedelta(seconds=window_seconds)


class DynamoDueItems:
    """Due items in one table (the deferred table by default; a journey engine may pass its own)."""

    def __init__(self, settings: Settings, table: Callable[[Settings], str] = lambda s: s.deferred_table) -> None:
        self._settings = settings
        self._table_of = table

    @cached_property
    def _client(self):
        return _client()

    @property
    def _table(self) -> str:
        return self._table_of(self._settings)

    def put(self, item: DueItem, expires_at: int) -> bool:
        stored = {
            "shard": {"S": item.shard},
            "due_key": {"S": item.sort_key},
            "body": {"S": item.body},
            "expires_at": {"N": str(expires_at)},
        }
        if item.profile_id:
            stored["profile_id"] = {"S": item.profile_id}
        try:
            self._client.put_item(
                TableName=self._table, Item=stored, ConditionExpression="attribute_not_exists(due_key)"
            )
            return True
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise

    def due(self, shard: str, bound: str) -> Iterator[DueItem]:
        kind = shard.rpartition("#")[0]
        start = None
        while True:
            page = self._client.query(
                TableName=self._table,
                KeyConditionExpression="#s = :s AND due_key <= :bound",
                ExpressionAttributeNames={"#s": "shard"},
                ExpressionAttributeValues={":s": {"S": shard}, ":bound": {"S": bound}},
                ConsistentRead=True,
                Limit=_PAGE,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            for stored in page.get("Items", []):
                due, key = split_sort_key(stored["due_key"]["S"])
                profile_id = stored.get("profile_id", {}).get("S")
                yield DueItem(kind, key, due, stored["body"]["S"], profile_id)
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def remove(self, item: DueItem) -> bool:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"shard": {"S": item.shard}, "due_key": {"S": item.sort_key}},
                ConditionExpression="attribute_exists(due_key)",
            )
            return True
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
