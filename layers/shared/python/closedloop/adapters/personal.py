"""Everything stored about one person, for a GDPR export or erasure (closedloop.privacy), on the low-level client.

Where it is: activity (partition = profile id), held messages (partition = profile id), ledger records naming the
profile (the `by_profile` index: address claim, message statuses, send keys, threshold claims) and ledger records
kept by address (`email#`, `suppressed#`, `bounces#`). Every read is paginated; the tables' own partitions are
read strongly consistent (the index cannot be, so the address claim is also read by its key).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from functools import cached_property

from closedloop.adapters.activity import _client
from closedloop.privacy import ACTIVITY_STORE, Record
from closedloop.settings import Settings
from closedloop.signup import CONFIRMATION_MAILS
from closedloop.values import MessageStatus

LEDGER_STORE, HELD_STORE = "ledger", "held"
DEFERRED_STORE = "deferred"  # sends waiting for the frequency cap or quiet hours (closedloop.deferrals)
BY_PROFILE = "by_profile"
_BATCH_WRITE = 25  # BatchWriteItem's limit


def _plain(item: dict) -> dict:
    """A low-level item as plain JSON values (strings, numbers as text, sets as sorted lists)."""
    plain = {}
    for name, typed in item.items():
        (kind, value), *_ = typed.items()
        plain[name] = sorted(value) if kind in ("SS", "NS") else value
    return plain


def _ledger_record(item: dict) -> Record:
    pk = item["pk"]["S"]
    prefix, _, rest = pk.partition("#")
    value = _plain(item)
    if prefix == "message":
        data = MessageStatus(**json.loads(value["body"])).to_api()
        kind = "message"
    elif prefix == "send":
        data = {
            "send_key": rest,
            "state": value.get("state"),
            "message_id": value.get("message_id"),
            "at": value.get("at"),
            "ses_message_id": value.get("provider_message_id"),
        }
        kind = "send"
    elif prefix == "threshold":
        data = {"rule": rest.rpartition("#")[0], "state": value.get("state"), "at": value.get("at")}
        kind = "threshold"
    elif prefix == "email":
        data, kind = {"email": rest}, "email_claim"
    elif prefix == "suppressed":
        data, kind = {"reason": value.get("reason"), "at": value.get("at")}, "suppression"
    elif prefix == "bounces":
        data, kind = {"transient_bounces": value.get("bounces", [])}, "bounces"
    else:  # a record another feature keeps under the profile: erased too, exported as it is stored
        data, kind = {k: v for k, v in value.items() if k not in ("expires_at",)}, prefix
    return Record(LEDGER_STORE, json.dumps({"pk": item["pk"]}), kind, data)


def _activity_record(item: dict) -> Record:
    value = _plain(item)
    kind = value["sk"].partition("#")[0]
    activity_id = value["sk"].rsplit("#", 1)[1]  # a click's key also names its message: click#<message>#<id>
    data = {"kind": value.get("kind", kind), "id": activity_id, "occurred_at": value.get("occurred_at")}
    if "details" in value:
        data["details"] = json.loads(value["details"])
    for bot_scoring in ("verdict", "bot_reason"):  # a click: pending, human or bot, and why
        if bot_scoring in value:
            data[bot_scoring] = value[bot_scoring]
    key = {"profile_id": item["profile_id"], "sk": item["sk"]}
    return Record(ACTIVITY_STORE, json.dumps(key), value.get("kind", kind), data)


def _held_record(item: dict) -> Record:
    request = json.loads(item["body"]["S"])
    data = {
        "send_key": request["send_key"],
        "message_id": request.get("message_id"),
        "template": request.get("template"),
        "context": request.get("context", {}),
        "held_at": item.get("held_at", {}).get("S"),
    }
    key = {"profile_id": item["profile_id"], "send_key": item["send_key"]}
    return Record(HELD_STORE, json.dumps(key), "held", data)


def _deferred_record(item: dict) -> Record:
    request = json.loads(item["body"]["S"])
    data = {
        "send_key": request["send_key"],
        "message_id": request.get("message_id"),
        "template": request.get("template"),
        "context": request.get("context", {}),
        "due": item["due_key"]["S"].partition("#")[0],
    }
    key = {"shard": item["shard"], "due_key": item["due_key"]}
    return Record(DEFERRED_STORE, json.dumps(key), "deferred", data)


class DynamoPersonalRecords:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return _client()

    def _tables(self) -> dict[str, str]:
        s = self._settings
        return {
            ACTIVITY_STORE: s.activity_table,
            LEDGER_STORE: s.ledger_table,
            HELD_STORE: s.held_table,
            DEFERRED_STORE: s.deferred_table,
        }

    def records(self, profile_id: str, address: str) -> Iterator[Record]:
        ledger = self._settings.ledger_table
        seen: set[str] = set()
        # Kept by address, not by profile: the claim, the suppression entry, transient bounces, and the double
        # opt-in's confirmation-mail slots (their keys hold the address, so an erasure must not leave them).
        slots = (f"confirm-slot#{address}#{n}" for n in range(CONFIRMATION_MAILS))
        for key in (f"email#{address}", f"suppressed#{address}", f"bounces#{address}", *slots):
            item = self._client.get_item(TableName=ledger, Key={"pk": {"S": key}}, ConsistentRead=True).get("Item")
            if item is None or (key.startswith("email#") and item.get("profile_id", {}).get("S") != profile_id):
                continue
            seen.add(key)
            yield _ledger_record(item)
        for item in self._query(ledger, "profile_id", profile_id, index=BY_PROFILE):
            if item["pk"]["S"] not in seen:
                yield _ledger_record(item)
        yield from map(_activity_record, self._query(self._settings.activity_table, "profile_id", profile_id))
        yield from map(_held_record, self._query(self._settings.held_table, "profile_id", profile_id))
        deferred = self._query(self._settings.deferred_table, "profile_id", profile_id, index=BY_PROFILE)
        yield from map(_deferred_record, deferred)

    def _query(self, table: str, attribute: str, value: str, index: str | None = None) -> Iterator[dict]:
        """Every item of one partition, page by page (an index cannot be read strongly consistent)."""
        start = None
        while True:
            page = self._client.query(
                TableName=table,
                KeyConditionExpression="#k = :v",
                ExpressionAttributeNames={"#k": attribute},
                ExpressionAttributeValues={":v": {"S": value}},
                **({"IndexName": index} if index else {"ConsistentRead": True}),
                **({"ExclusiveStartKey": start} if start else {}),
            )
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def forget(self, records: Iterable[Record]) -> int:
        """BatchWriteItem deletes, 25 at a time per table, repeating what DynamoDB leaves unprocessed."""
        tables, pending, deleted = self._tables(), {}, 0
        for record in records:
            batch = pending.setdefault(record.store, [])
            batch.append(json.loads(record.key))
            if len(batch) == _BATCH_WRITE:
                deleted += self._delete(tables[record.store], pending.pop(record.store))
        for store, keys in pending.items():
            deleted += self._delete(tables[store], keys)
        return deleted

    def _delete(self, table: str, keys: list[dict]) -> int:
        unique = list({json.dumps(key, sort_keys=True): key for key in keys}.values())
        requests = {table: [{"DeleteRequest": {"Key": key}} for key in unique]}
        while requests:
            requests = self._client.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
        return len(unique)

    def forget_profile(self, profile_id: str) -> bool:
        old = self._client.delete_item(
            TableName=self._settings.profiles_table, Key={"profile_id": {"S": profile_id}}, ReturnValues="ALL_OLD"
        ).get("Attributes")
        return old is not None
