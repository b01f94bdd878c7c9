"""A campaign's counters in the `campaigns` table, on the low-level client (the open and click paths build these
writes too: closedloop.adapters.activity puts them into their own transactions).

`stats_update` and `fact_put` are the two pieces every counting write is made of: an ADD on a shard item (no
condition: it never fails a transaction) and the put-if-absent of the business key that makes the count happen
once. `DynamoCampaignStats.add` writes both in one TransactWriteItems.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from functools import cached_property

from botocore.exceptions import ClientError

from closedloop import campaign_stats
from closedloop.campaign_keys import converted_key
from closedloop.clock import Clock, isoformat, parse_instant
from closedloop.settings import Settings
from closedloop.values import CampaignRef

# A transaction that meets another one on the same item is cancelled (TransactionConflict): try again a little
# later. Shards make this rare.
CONFLICT_RETRIES = 5


def stats_update(table: str, ref: CampaignRef, counts: Mapping[str, int | Decimal], shard_of: str) -> dict:
    """A TransactWriteItems `Update` that ADDs `counts` to the shard item of `ref` chosen by `shard_of`."""
    names, values, parts = {}, {}, []
    for n, (name, amount) in enumerate(campaign_stats.check_counts(counts).items()):
        names[f"#c{n}"] = name
        values[f":c{n}"] = {"N": str(amount)}
        parts.append(f"#c{n} :c{n}")
    key = campaign_stats.stats_sort_key(ref, campaign_stats.shard(shard_of))
    return {
        "Update": {
            "TableName": table,
            "Key": {"pk": {"S": campaign_stats.partition(ref.id)}, "sk": {"S": key}},
            "UpdateExpression": "ADD " + ", ".join(parts),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def fact_put(table: str, campaign_id: str, fact: str, expires_at: int) -> dict:
    """A TransactWriteItems `Put` of a fact, only if absent: its condition failing means "counted before"."""
    return {
        "Put": {
            "TableName": table,
            "Item": {
                "pk": {"S": campaign_stats.partition(campaign_id)},
                "sk": {"S": campaign_stats.fact_sort_key(fact)},
                "expires_at": {"N": str(expires_at)},
            },
            "ConditionExpression": "attribute_not_exists(sk)",
        }
    }


def cancellation_codes(error: ClientError) -> list[str | None]:
    """The cancellation reason of each item of a cancelled transaction, in order ([] for any other error)."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    return [reason.get("Code") for reason in error.response.get("CancellationReasons") or []]


def transact(client, items: list[dict]) -> list[str | None]:
    """Write the items in one transaction; [] when it committed, else each item's cancellation reason (a
    condition failing is an answer, not an error). Conflicts with another transaction are retried."""
    for attempt in range(CONFLICT_RETRIES):
        try:
            client.transact_write_items(TransactItems=items)
            return []
        except ClientError as error:
            codes = cancellation_codes(error)
            if not codes:
                raise
            if "TransactionConflict" in codes and "ConditionalCheckFailed" not in codes:
                time.sleep(0.02 * 2**attempt)
                continue
            return codes
    raise RuntimeError("the transaction kept conflicting with others")


class DynamoCampaignStats:
    def __init__(self, settings: Settings, clock: Clock) -> None:
        self._settings = settings
        self._clock = clock

    @cached_property
    def _client(self):
        from closedloop.adapters.activity import _client

        return _client()

    def add(self, ref: CampaignRef, counts: dict[str, int | Decimal], *, fact: str, shard_of: str) -> bool:
        table = self._settings.campaigns_table
        items = [fact_put(table, ref.id, fact, self.fact_expiry())]
        if counts:
            items.append(stats_update(table, ref, counts, shard_of))
        codes = transact(self._client, items)
        if not codes:
            return True
        if codes[0] == "ConditionalCheckFailed":
            return False
        raise RuntimeError(f"counting {fact} was cancelled: {codes}")

    def convert(self, ref: CampaignRef, profile_id: str, counts: dict[str, int | Decimal]) -> bool:
        now = self._clock.now()
        converted = {
            "pk": {"S": converted_key(ref.id, profile_id)},
            "profile_id": {"S": profile_id},  # the by_profile index: a GDPR export or erasure finds it
            "campaign_id": {"S": ref.id},
            "at": {"S": isoformat(now)},
            "expires_at": {"N": str(self.fact_expiry())},
        }
        put = {
            "Put": {
                "TableName": self._settings.ledger_table,
                "Item": converted,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        codes = transact(self._client, [put, stats_update(self._settings.campaigns_table, ref, counts, profile_id)])
        if not codes:
            return True
        if codes[0] == "ConditionalCheckFailed":
            return False
        raise RuntimeError(f"counting a conversion was cancelled: {codes}")

    def fact_expiry(self) -> int:
        return int((self._clock.now() + timedelta(days=campaign_stats.FACT_RETENTION_DAYS)).timestamp())

    def summary(self, campaign_id: str) -> dict:
        shards, start = [], None
        while True:
            page = self._client.query(
                TableName=self._settings.campaigns_table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :stats)",
                ExpressionAttributeValues={
                    ":pk": {"S": campaign_stats.partition(campaign_id)},
                    ":stats": {"S": "stats#"},
                },
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            for item in page.get("Items", []):
                where = campaign_stats.parse_sort_key(item["sk"]["S"])
                if where:
                    counts = {name: Decimal(value["N"]) for name, value in item.items() if "N" in value}
                    shards.append((*where, counts))
            start = page.get("LastEvaluatedKey")
            if not start:
                return campaign_stats.merge(shards)


class DynamoCampaignReach:
    """Campaign goals (the campaigns engineer's item `campaign#<id> / campaign`) and the ledger's record of who a
    campaign reached (`send#campaign#<id>#<stage>#<profile>`, `holdout#<id>#<profile>`, by_profile index)."""

    CACHE_SECONDS = 60  # a goal never changes; `started_at` is set once, when the first send starts

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._campaigns: dict[str, tuple[float, dict | None]] = {}

    @cached_property
    def _client(self):
        from closedloop.adapters.activity import _client

        return _client()

    def campaign(self, campaign_id: str) -> dict | None:
        cached = self._campaigns.get(campaign_id)
        if cached and time.monotonic() - cached[0] < self.CACHE_SECONDS:
            return cached[1]
        item = self._client.get_item(
            TableName=self._settings.campaigns_table,
            Key={"pk": {"S": campaign_stats.partition(campaign_id)}, "sk": {"S": "campaign"}},
            ProjectionExpression="#d, started_at, window_until",
            ExpressionAttributeNames={"#d": "definition"},  # a reserved word
        ).get("Item")
        found = None
        if item:
            definition = item.get("definition", {})
            found = {
                "definition": json.loads(definition["S"]) if "S" in definition else _plain(definition),
                **{name: item[name]["S"] for name in ("started_at", "window_until") if name in item},
            }
        self._campaigns[campaign_id] = (time.monotonic(), found)
        return found

    def touches(self, profile_id: str) -> list:
        from closedloop.conversions import Touch, holdout_touch

        found = []
        for prefix in ("send#campaign#", "holdout#"):
            for item in self._by_profile(profile_id, prefix):
                parts = item["pk"]["S"].split("#")
                at = parse_instant(item["at"]["S"]) if "at" in item else None
                if at is None:
                    continue
                if prefix == "holdout#":
                    found.append(holdout_touch(parts[1], at))
                elif item.get("state", {}).get("S") in ("sent", "possibly_sent"):
                    found.append(Touch(parts[2], parts[3], item.get("variant", {}).get("S"), at))
        return found

    def _by_profile(self, profile_id: str, prefix: str):
        start = None
        while True:
            page = self._client.query(
                TableName=self._settings.ledger_table,
                IndexName="by_profile",
                KeyConditionExpression="profile_id = :p AND begins_with(pk, :prefix)",
                ExpressionAttributeValues={":p": {"S": profile_id}, ":prefix": {"S": prefix}},
                **({"ExclusiveStartKey": start} if start else {}),
            )
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return


def _plain(value: dict):
    from boto3.dynamodb.types import TypeDeserializer

    return json.loads(json.dumps(TypeDeserializer().deserialize(value), default=str))
