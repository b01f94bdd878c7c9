"""Campaigns in DynamoDB (the `campaigns` table), the dispatch queue (SQS), one-time schedules (EventBridge
Scheduler) and the SES account's send rate.

Items, all under `pk = campaign#<id>`: `sk = campaign` (definition, status, dispatch state), `progress` (per phase a
string set of the pages done and a count of recipients queued), `audience#<segment>#<page>` (the page's profile
ids, newline-joined), `parked#<key>` (a job or send requests a pause parked). The list is `pk = campaigns`,
`sk = <created_at>#<id>`. Holdout records go to the ledger (closedloop.campaign_keys). Low-level client: the
dispatcher's writes are single conditional updates whose ReturnValues it reads.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime
from functools import cached_property

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from closedloop.adapters.activity import _client
from closedloop.campaign_keys import converted_key, holdout_key
from closedloop.clock import isoformat
from closedloop.settings import Settings

LIST_PK = "campaigns"
MAIN_SK = "campaign"
PROGRESS_SK = "progress"
AUDIENCE_RETENTION_DAYS = 60  # audience pages and parked items outlive any campaign window by far
HOLDOUT_RETENTION_DAYS = 400
JSON_FIELDS = ("definition", "rules")
_serializer, _deserializer = TypeSerializer(), TypeDeserializer()


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _plain(value):
    """DynamoDB's Decimals as int (whole) or float; sets as sorted lists."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def _campaign(item: dict | None) -> dict | None:
    if not item:
        return None
    data = {k: _plain(_deserializer.deserialize(v)) for k, v in item.items() if k not in ("pk", "sk")}
    for name in JSON_FIELDS:
        if name in data:
            data[name] = json.loads(data[name])
    return data


def _value(value) -> dict:
    """A JSON field (definition, rules) as text: its floats stay floats and its size stays small."""
    return {"S": json.dumps(value, separators=(",", ":"))}


class DynamoCampaignStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return _client()

    @property
    def _table(self) -> str:
        return self._settings.campaigns_table

    def _key(self, campaign_id: str, sk: str = MAIN_SK) -> dict:
        return {"pk": {"S": f"campaign#{campaign_id}"}, "sk": {"S": sk}}

    def create(self, campaign_id: str, definition: dict, created_at: str) -> None:
        item = {
            **self._key(campaign_id),
            "campaign_id": {"S": campaign_id},
            "name": {"S": definition["name"]},
            "status": {"S": "draft"},
            "definition": _value(definition),
            "created_at": {"S": created_at},
            "updated_at": {"S": created_at},
            **({"send_at": {"S": definition["send_at"]}} if definition.get("send_at") else {}),
        }
        listing = {"pk": {"S": LIST_PK}, "sk": {"S": f"{created_at}#{campaign_id}"}, "campaign_id": {"S": campaign_id}}
        self._client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self._table, "Item": listing}},
            ]
        )

    def get(self, campaign_id: str, consistent: bool = True) -> dict | None:
        item = self._client.get_item(TableName=self._table, Key=self._key(campaign_id), ConsistentRead=consistent)
        return _campaign(item.get("Item"))

    def status(self, campaign_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table,
            Key=self._key(campaign_id),
            ConsistentRead=True,
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "status"},
        ).get("Item")
        return item["status"]["S"] if item else None

    def list(self, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": LIST_PK}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = {"pk": {"S": LIST_PK}, "sk": {"S": _decode_cursor(cursor)}}
        page = self._client.query(**request)
        ids = [item["campaign_id"]["S"] for item in page.get("Items", [])]
        found = self._batch_get([self._key(i) for i in ids], consistent=False)
        by_id = {c["campaign_id"]: c for c in map(_campaign, found)}
        last = page.get("LastEvaluatedKey")
        next_cursor = base64.urlsafe_b64encode(last["sk"]["S"].encode()).decode() if last else None
        return [by_id[i] for i in ids if i in by_id], next_cursor

    def _batch_get(self, keys: list[dict], *, consistent: bool, table: str | None = None) -> list[dict]:
        table = table or self._table
        found: list[dict] = []
        for start in range(0, len(keys), 100):
            request = {table: {"Keys": keys[start : start + 100], "ConsistentRead": consistent}}
            for attempt in range(8):
                answer = self._client.batch_get_item(RequestItems=request)
                found.extend(answer.get("Responses", {}).get(table, []))
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1))
            if request:
                raise RuntimeError("DynamoDB left keys unprocessed after retries")
        return found

    def progress(self, campaign_id: str) -> dict:
        item = (
            self._client.get_item(
                TableName=self._table, Key=self._key(campaign_id, PROGRESS_SK), ConsistentRead=True
            ).get("Item")
            or {}
        )
        shown: dict[str, dict] = {}
        for name, value in item.items():
            kind, _, phase = name.partition("#")
            if kind == "pages":
                shown.setdefault(phase, {})["pages_done"] = len(value["SS"])
            elif kind == "recipients":
                shown.setdefault(phase, {})["queued"] = int(value["N"])
        return shown

    def _update(self, campaign_id: str, changes: dict, sets: list[str], names: dict, values: dict, **extra) -> dict:
        for n, (name, value) in enumerate(changes.items()):
            names[f"#c{n}"] = name
            values[f":c{n}"] = _value(value) if name in JSON_FIELDS else _serializer.serialize(value)
            sets.append(f"#c{n} = :c{n}")
        return self._client.update_item(
            TableName=self._table,
            Key=self._key(campaign_id),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            **extra,
        )

    def transition(
        self, campaign_id: str, from_statuses: tuple[str, ...], to: str, now: str, changes: dict | None = None
    ) -> dict | None:
        values = {f":f{n}": {"S": s} for n, s in enumerate(from_statuses)}
        values.update({":to": {"S": to}, ":now": {"S": now}})
        try:
            answer = self._update(
                campaign_id,
                changes or {},
                ["#s = :to", "updated_at = :now"],
                {"#s": "status"},
                values,
                ConditionExpression=f"#s IN ({', '.join(f':f{n}' for n in range(len(from_statuses)))})",
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _conditional_failed(error):
                return None
            raise
        return _campaign(answer["Attributes"])

    def advance(self, campaign_id: str, from_phase: str, to_phase: str, changes: dict) -> bool:
        try:
            self._update(
                campaign_id,
                changes,
                ["#p = :to"],
                {"#p": "phase"},
                {":to": {"S": to_phase}, ":from": {"S": from_phase}},
                ConditionExpression="#p = :from",
            )
            return True
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise

    def put_page(self, campaign_id: str, segment: int, page: int, ids: list[str], before: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **self._key(campaign_id, f"audience#{segment:04d}#{page:06d}"),
                "ids": {"S": "\n".join(ids)},
                "count": {"N": str(len(ids))},
                "before": {"N": str(before)},
                "expires_at": {"N": str(int(time.time()) + AUDIENCE_RETENTION_DAYS * 86400)},
            },
        )

    def get_page(self, campaign_id: str, segment: int, page: int) -> dict:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(campaign_id, f"audience#{segment:04d}#{page:06d}"), ConsistentRead=True
        )["Item"]
        ids = item["ids"]["S"]
        return {"ids": ids.split("\n") if ids else [], "before": int(item["before"]["N"])}

    def segment_scanned(self, campaign_id: str, segment: int, pages: int, count: int) -> dict:
        # The maps exist from the send's transition (closedloop.dispatch sets them empty), so one SET per key works.
        answer = self._client.update_item(
            TableName=self._table,
            Key=self._key(campaign_id),
            UpdateExpression="ADD scanned :s SET segment_pages.#seg = :pages, segment_counts.#seg = :count",
            ExpressionAttributeNames={"#seg": str(segment)},
            ExpressionAttributeValues={
                ":s": {"NS": [str(segment)]},
                ":pages": {"N": str(pages)},
                ":count": {"N": str(count)},
            },
            ReturnValues="ALL_NEW",
        )
        return _campaign(answer["Attributes"])

    def page_done(self, campaign_id: str, phase: str, page_key: str, recipients: int) -> int:
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=self._key(campaign_id, PROGRESS_SK),
                UpdateExpression="ADD #pages :page, #n :n",
                ConditionExpression="NOT contains(#pages, :key)",
                ExpressionAttributeNames={"#pages": f"pages#{phase}", "#n": f"recipients#{phase}"},
                ExpressionAttributeValues={
                    ":page": {"SS": [page_key]},
                    ":key": {"S": page_key},
                    ":n": {"N": str(recipients)},
                },
                ReturnValues="UPDATED_NEW",
            )
            return len(answer["Attributes"][f"pages#{phase}"]["SS"])
        except ClientError as error:
            if not _conditional_failed(error):
                raise
        # Counted before (a redelivery): report where the phase stands, so a completion that failed is repeated.
        return self.progress(campaign_id).get(phase, {}).get("pages_done", 0)

    def phase_done(self, campaign_id: str, phase: str) -> dict:
        answer = self._client.update_item(
            TableName=self._table,
            Key=self._key(campaign_id),
            UpdateExpression="ADD phases_done :p",
            ExpressionAttributeValues={":p": {"SS": [phase]}},
            ReturnValues="ALL_NEW",
        )
        return _campaign(answer["Attributes"])

    def mark_stage_started(self, campaign_id: str, stage: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(campaign_id),
                UpdateExpression="ADD stages_started :s",
                ConditionExpression="NOT contains(stages_started, :stage)",
                ExpressionAttributeValues={":s": {"SS": [stage]}, ":stage": {"S": stage}},
            )
            return True
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise

    def set_winner(self, campaign_id: str, winner: str) -> str:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(campaign_id),
                UpdateExpression="SET winner = :w",
                ConditionExpression="attribute_not_exists(winner)",
                ExpressionAttributeValues={":w": {"S": winner}},
            )
            return winner
        except ClientError as error:
            if not _conditional_failed(error):
                raise
        return self.get(campaign_id)["winner"]

    def reserve_slot(self, campaign_id: str, seen: str | None, new: str) -> bool:
        condition = "next_slot = :seen" if seen else "attribute_not_exists(next_slot)"
        values = {":new": {"S": new}, **({":seen": {"S": seen}} if seen else {})}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(campaign_id),
                UpdateExpression="SET next_slot = :new",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise

    def note_throttle(self, campaign_id: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._key(campaign_id),
            UpdateExpression="ADD throttles :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def park(self, campaign_id: str, key: str, kind: str, body) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **self._key(campaign_id, f"parked#{key}"),
                "kind": {"S": kind},
                "body": {"S": json.dumps(body, separators=(",", ":"))},
                "expires_at": {"N": str(int(time.time()) + AUDIENCE_RETENTION_DAYS * 86400)},
            },
        )

    def parked(self, campaign_id: str, after: str | None, limit: int):
        request = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :parked)",
            "ExpressionAttributeValues": {":pk": {"S": f"campaign#{campaign_id}"}, ":parked": {"S": "parked#"}},
            "ConsistentRead": True,
            "Limit": limit,
        }
        if after:
            request["ExclusiveStartKey"] = self._key(campaign_id, after)
        page = self._client.query(**request)
        items = [
            (item["sk"]["S"].removeprefix("parked#"), item["kind"]["S"], json.loads(item["body"]["S"]))
            for item in page.get("Items", [])
        ]
        last = page.get("LastEvaluatedKey")
        return items, last["sk"]["S"] if last else None

    def unpark(self, campaign_id: str, key: str) -> None:
        self._client.delete_item(TableName=self._table, Key=self._key(campaign_id, f"parked#{key}"))

    def has_parked(self, campaign_id: str) -> bool:
        items, _ = self.parked(campaign_id, None, 1)
        return bool(items)

    def hold_out(self, campaign_id: str, profile_ids: list[str], now: datetime) -> None:
        expires = str(int(now.timestamp()) + HOLDOUT_RETENTION_DAYS * 86400)
        table = self._settings.ledger_table
        puts = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": holdout_key(campaign_id, profile_id)},
                        "profile_id": {"S": profile_id},
                        "campaign_id": {"S": campaign_id},
                        "at": {"S": isoformat(now)},
                        "expires_at": {"N": expires},
                    }
                }
            }
            for profile_id in profile_ids
        ]
        for start in range(0, len(puts), 25):
            request = {table: puts[start : start + 25]}
            for attempt in range(8):
                request = self._client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 1))
            if request:
                raise RuntimeError("DynamoDB left holdout records unwritten after retries")

    def converted(self, campaign_id: str, profile_ids: list[str]) -> set[str]:
        table = self._settings.ledger_table
        keys = [{"pk": {"S": converted_key(campaign_id, p)}} for p in dict.fromkeys(profile_ids)]
        found = self._batch_get(keys, consistent=True, table=table)
        prefix = converted_key(campaign_id, "")
        return {item["pk"]["S"].removeprefix(prefix) for item in found}


def _decode_cursor(cursor: str) -> str:
    from closedloop.errors import InvalidInput

    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("cursor is not one this API gave out") from error


class SqsDispatchQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return boto3.client("sqs")

    def enqueue(self, jobs: list[dict], delay_seconds: int = 0) -> None:
        for start in range(0, len(jobs), 10):
            entries = [
                {"Id": str(n), "MessageBody": json.dumps(job, separators=(",", ":")), "DelaySeconds": delay_seconds}
                for n, job in enumerate(jobs[start : start + 10])
            ]
            answer = self._client.send_message_batch(QueueUrl=self._settings.dispatch_queue_url, Entries=entries)
            if answer.get("Failed"):
                raise RuntimeError(f"SQS refused {len(answer['Failed'])} of {len(entries)} dispatch jobs")


class SchedulerOneTimeSchedules:
    """`at(...)` schedules in the campaigns schedule group, deleted by Scheduler after they fire."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return boto3.client("scheduler")

    def create(self, name: str, at: datetime, job: dict) -> None:
        try:
            self._client.create_schedule(
                Name=name,
                GroupName=self._settings.schedule_group,
                ScheduleExpression=f"at({at.strftime('%Y-%m-%dT%H:%M:%S')})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self._settings.dispatch_queue_arn,
                    "RoleArn": self._settings.schedule_role_arn,
                    "Input": json.dumps(job, separators=(",", ":")),
                },
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConflictException":
                raise

    def delete(self, name: str) -> None:
        try:
            self._client.delete_schedule(Name=name, GroupName=self._settings.schedule_group)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise


class SesSendRate:
    """The SES account's maximum send rate (mails per second), read once per container."""

    def __init__(self) -> None:
        self._rate: float | None = None

    def __call__(self) -> float:
        if self._rate is None:
            quota = boto3.client("sesv2").get_account().get("SendQuota") or {}
            self._rate = float(quota.get("MaxSendRate") or 1.0)
        return self._rate
