"""CSV imports on AWS: the import's records in the ledger, bulk profile reads and writes, the bucket, the queue.

A chunk of 500 rows costs about 30 requests, not 500: one BatchGetItem per 100 keys (claims and suppression
entries of the chunk's addresses, then the profiles they lead to), and TransactWriteItems of up to 100 items (each
profile with its address claim and the release of its old one, under the same conditions as
DynamoProfileStore.save). The low-level client is used for the bulk requests; profiles read back are converted
by the same code as DynamoProfileStore's (`_to_profile`), so both adapters see one item layout.

Ledger keys: `import#<id>` (options, counters, the numbers of chunks that recorded errors) and
`import#<id>#<chunk>` (the chunk's errors; its existence means "counted"). Both expire with the ledger's TTL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from functools import cached_property

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from closedloop.adapters.dynamo import _to_profile, profile_model
from closedloop.clock import isoformat
from closedloop.due import shard_of
from closedloop.imports import OUTCOMES, Chunk, ImportOptions, ImportRecord, ProfileWriteOp, Snapshot, expires_at
from closedloop.settings import Settings
from closedloop.suppression import Suppression

_BATCH_GET = 100  # keys per BatchGetItem
_TRANSACTION = 100  # items per TransactWriteItems
_SQS_BATCH = 10
_NEW = "attribute_not_exists(pk)"
_RETRYABLE = {"ConditionalCheckFailed", "TransactionConflict"}
_serializer = TypeSerializer()


def _serialize(value: object) -> dict:
    """A Python value as a DynamoDB attribute value; floats (as pynamodb reads numbers back) go as decimals."""
    return _serializer.serialize(_decimals(value))


def _decimals(value: object) -> object:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


def _client():
    # No parameter validation: the requests are built here, by tested code (as pynamodb's own client).
    return boto3.client("dynamodb", config=Config(parameter_validation=False))


def _s(value: str) -> dict:
    return {"S": value}


def _n(value: int) -> dict:
    return {"N": str(value)}


class DynamoImportStore:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _db(self):
        return _client()

    @property
    def _ledger(self) -> str:
        return self._settings.ledger_table

    # --- the import and its chunks ------------------------------------------------------------------------------

    def create(self, record: ImportRecord, now: datetime) -> None:
        item = {
            "pk": _s(f"import#{record.import_id}"),
            "state": _s("import"),
            "at": _s(record.created_at),
            "upload": {"BOOL": record.upload},
            "expires_at": _n(record.expires_at(now)),
        }
        if record.options.status:
            item["import_status"] = _s(record.options.status)
        if record.options.consent_source:
            item["consent_source"] = _s(record.options.consent_source)
        self._db.put_item(TableName=self._ledger, Item=item, ConditionExpression="attribute_not_exists(pk)")

    def get(self, import_id: str) -> ImportRecord | None:
        item = self._db.get_item(TableName=self._ledger, Key={"pk": _s(f"import#{import_id}")}, ConsistentRead=True)
        item = item.get("Item")
        if item is None:
            return None

        def number(name: str) -> int | None:
            return int(item[name]["N"]) if name in item else None

        return ImportRecord(
            import_id=import_id,
            options=ImportOptions(item.get("import_status", {}).get("S"), item.get("consent_source", {}).get("S")),
            created_at=item["at"]["S"],
            upload=item.get("upload", {}).get("BOOL", False),
            rows=number("rows"),
            chunks=number("chunks"),
            done_chunks=number("done_chunks") or 0,
            counters={outcome: number(outcome) or 0 for outcome in OUTCOMES},
            error_chunks=sorted(int(n) for n in item.get("error_chunks", {}).get("NS", [])),
            file_errors=json.loads(item["body"]["S"]) if "body" in item else [],
        )

    def mark_planned(self, import_id: str, rows: int, chunks: int) -> None:
        self._plan(import_id, rows, chunks, errors=None)

    def refuse(self, import_id: str, line: int, reason: str) -> None:
        self._plan(import_id, 0, 0, errors=[{"line": line, "reason": reason}])

    def _plan(self, import_id: str, rows: int, chunks: int, errors: list[dict] | None) -> None:
        values = {":rows": _n(rows), ":chunks": _n(chunks)}
        expression = "SET #rows = :rows, chunks = :chunks"
        if errors is not None:
            expression += ", body = :errors"
            values[":errors"] = _s(json.dumps(errors))
        try:
            self._db.update_item(
                TableName=self._ledger,
                Key={"pk": _s(f"import#{import_id}")},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(chunks)",
                ExpressionAttributeNames={"#rows": "rows"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # planned before: the first plan stands

    def chunk_counted(self, import_id: str, number: int) -> bool:
        key = {"pk": _s(f"import#{import_id}#{number}")}
        return "Item" in self._db.get_item(TableName=self._ledger, Key=key, ConsistentRead=True)

    def chunk_errors(self, import_id: str, numbers: list[int]) -> Iterator[list[dict]]:
        for start in range(0, len(numbers), _BATCH_GET):
            wanted = [f"import#{import_id}#{n}" for n in numbers[start : start + _BATCH_GET]]
            found = {item["pk"]["S"]: item for item in self._batch_get(self._ledger, [{"pk": _s(k)} for k in wanted])}
            for key in wanted:
                if key in found and "body" in found[key]:
                    yield json.loads(found[key]["body"]["S"])

    def count_chunk(
        self, import_id: str, number: int, counters: dict[str, int], errors: list[dict], now: datetime
    ) -> bool:
        names = {f"#o{i}": outcome for i, outcome in enumerate(OUTCOMES)}
        values = {f":o{i}": _n(counters.get(outcome, 0)) for i, outcome in enumerate(OUTCOMES)}
        adds = [f"#o{i} :o{i}" for i in range(len(OUTCOMES))] + ["done_chunks :one"]
        values[":one"] = _n(1)
        if errors:
            adds.append("error_chunks :chunk")
            values[":chunk"] = {"NS": [str(number)]}
        chunk = {
            "pk": _s(f"import#{import_id}#{number}"),
            "state": _s("counted"),
            "at": _s(isoformat(now)),
            "body": _s(json.dumps(errors)),
            "expires_at": _n(expires_at(now)),
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._ledger, "Item": chunk, "ConditionExpression": _NEW}},
                    {
                        "Update": {
                            "TableName": self._ledger,
                            "Key": {"pk": _s(f"import#{import_id}")},
                            "UpdateExpression": "ADD " + ", ".join(adds),
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    },
                ]
            )
            return True
        except ClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
            if reasons[:1] == ["ConditionalCheckFailed"]:
                return False  # counted by an earlier delivery of the same chunk
            raise

    # --- profiles in bulk ---------------------------------------------------------------------------------------

    def snapshot(
        self, addresses: set[str], profile_ids: set[str], suppression_keys: set[str] = frozenset()
    ) -> Snapshot:
        keys = [{"pk": _s(f"email#{address}")} for address in sorted(addresses)]
        keys += [{"pk": _s(f"suppressed#{key}")} for key in sorted({*addresses, *suppression_keys})]
        claims: dict[str, str] = {}
        suppressions: dict[str, object] = dict.fromkeys({*addresses, *suppression_keys})
        for item in self._batch_get(self._ledger, keys):
            kind, _, address = item["pk"]["S"].partition("#")
            if kind == "email":
                claims[address] = item["profile_id"]["S"]
            else:
                suppressions[address] = Suppression(address, item["reason"]["S"], item["at"]["S"])
        wanted = sorted({*profile_ids, *claims.values()})
        model = profile_model(self._settings.profiles_table)
        found = {}
        for item in self._batch_get(self._settings.profiles_table, [{"profile_id": _s(pid)} for pid in wanted]):
            profile = _to_profile(model.from_raw_data(item))
            found[profile.profile_id] = profile
        return Snapshot(claims, found, suppressions)

    def _batch_get(self, table: str, keys: list[dict]) -> Iterator[dict]:
        for start in range(0, len(keys), _BATCH_GET):
            request = {table: {"Keys": keys[start : start + _BATCH_GET], "ConsistentRead": True}}
            while request:
                answer = self._db.batch_get_item(RequestItems=request)
                yield from answer.get("Responses", {}).get(table, [])
                request = answer.get("UnprocessedKeys") or None

    def write_profiles(self, writes: list[ProfileWriteOp], now: datetime) -> set[str]:
        stamp = isoformat(now)
        conflicted: set[str] = set()
        batch: list[tuple[str, list[dict]]] = []
        keys: set[str] = set()
        for op in writes:
            items = self._items(op, stamp)
            item_keys = {_key_of(item) for item in items}
            if batch and (len(keys) + len(items) > _TRANSACTION or keys & item_keys):
                conflicted |= self._transact(batch)
                batch, keys = [], set()
            batch.append((op.change.profile_id, items))
            keys |= item_keys
        if batch:
            conflicted |= self._transact(batch)
        return conflicted

    def _transact(self, batch: list[tuple[str, list[dict]]]) -> set[str]:
        """Write the batch in one transaction; a profile or claim that changed cancels it, and the others are
        written again without it. Returns the profile ids left out."""
        conflicted: set[str] = set()
        while batch:
            items = [item for _, group in batch for item in group]
            try:
                self._db.transact_write_items(TransactItems=items)
                return conflicted
            except ClientError as error:
                reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
                if len(reasons) != len(items) or not _RETRYABLE & set(reasons):
                    raise
                position, failed = 0, set()
                for profile_id, group in batch:
                    if _RETRYABLE & set(reasons[position : position + len(group)]):
                        failed.add(profile_id)
                    position += len(group)
                conflicted |= failed
                batch = [(profile_id, group) for profile_id, group in batch if profile_id not in failed]
        return conflicted

    def _items(self, op: ProfileWriteOp, stamp: str) -> list[dict]:
        """The items of one profile's write: as DynamoProfileStore.save writes them."""
        change, existing = op.change, op.existing
        claims = self._ledger
        mine = {":me": _s(change.profile_id)}
        free_or_mine = "attribute_not_exists(pk) OR profile_id = :me"
        items = []
        if change.previous_email and change.previous_email != change.email:
            items.append(
                {
                    "Delete": {
                        "TableName": claims,
                        "Key": {"pk": _s(f"email#{change.previous_email}")},
                        "ConditionExpression": free_or_mine,
                        "ExpressionAttributeValues": mine,
                    }
                }
            )
        if not (op.claimed and existing and existing.email == change.email):
            items.append(
                {
                    "Put": {
                        "TableName": claims,
                        "Item": {"pk": _s(f"email#{change.email}"), "profile_id": _s(change.profile_id)},
                        "ConditionExpression": free_or_mine,
                        "ExpressionAttributeValues": mine,
                    }
                }
            )
        items.append(
            {"Put": self._profile_put(op, stamp)} if existing is None else {"Update": self._profile_update(op, stamp)}
        )
        return items

    def _profile_put(self, op: ProfileWriteOp, stamp: str) -> dict:
        """A new profile, whole: the item DynamoProfileStore.save's update leaves when there was none (a put costs
        DynamoDB the same, and moto a fraction of an update expression)."""
        change = op.change
        item = {
            "profile_id": _s(change.profile_id),
            "email": _s(change.email),
            "status": _s(change.status),
            "attributes": _serialize(change.attributes),
            "updated_at": _s(stamp),
            "created_at": _s(stamp),
            "interests": {"M": {}},
            "event_counts": {"M": {}},
            "revenue": {"M": {}},
            "writes": _n(1),
        }
        if change.consent:
            item["consent"] = _serialize(change.consent)
        if change.birthday_due:
            item["bday_shard"], item["bday_due_at"] = _s(shard_of(change.profile_id, "bday")), _s(change.birthday_due)
        if change.idle_due:
            item["idle_shard"], item["idle_due_at"] = _s(shard_of(change.profile_id, "idle")), _s(change.idle_due)
        return {
            "TableName": self._settings.profiles_table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(profile_id)",
        }

    def _profile_update(self, op: ProfileWriteOp, stamp: str) -> dict:
        change, existing = op.change, op.existing
        names = {
            "#email": "email",
            "#status": "status",
            "#attributes": "attributes",
            "#writes": "writes",
        }
        values = {
            ":email": _s(change.email),
            ":status": _s(change.status),
            ":attributes": _serialize(change.attributes),
            ":stamp": _s(stamp),
            ":empty": {"M": {}},
            ":one": _n(1),
        }
        sets = [
            "#email = :email",
            "#status = :status",
            "#attributes = :attributes",
            "updated_at = :stamp",
            "created_at = if_not_exists(created_at, :stamp)",
            # The maps an activity ADDs into must exist (closedloop.adapters.activity).
            "interests = if_not_exists(interests, :empty)",
            "event_counts = if_not_exists(event_counts, :empty)",
            "revenue = if_not_exists(revenue, :empty)",
        ]
        removes = []
        if change.consent:
            sets.append("consent = :consent")
            values[":consent"] = _serialize(change.consent)
        if change.birthday_due:
            sets += ["bday_shard = :bday_shard", "bday_due_at = :bday_due"]
            values[":bday_shard"] = _s(shard_of(change.profile_id, "bday"))
            values[":bday_due"] = _s(change.birthday_due)
        else:
            removes += ["bday_shard", "bday_due_at"]
        if change.idle_due:
            # A running silence clock keeps running: an import is not activity.
            sets += ["idle_shard = :idle_shard", "idle_due_at = if_not_exists(idle_due_at, :idle_due)"]
            values.update({":idle_shard": _s(shard_of(change.profile_id, "idle")), ":idle_due": _s(change.idle_due)})
        else:
            removes += ["idle_shard", "idle_due_at"]
        if existing is None:
            condition = "attribute_not_exists(profile_id)"
        elif existing.version == 0:
            condition = "attribute_exists(profile_id) AND attribute_not_exists(#writes)"
        else:
            condition = "#writes = :version"
            values[":version"] = _n(existing.version)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        expression += " ADD #writes :one"
        return {
            "TableName": self._settings.profiles_table,
            "Key": {"profile_id": _s(change.profile_id)},
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }


def _key_of(item: dict) -> str:
    (operation,) = item.values()
    key = operation.get("Key") or {k: v for k, v in operation["Item"].items() if k in ("pk", "profile_id")}
    return f"{operation['TableName']}/{json.dumps(key, sort_keys=True)}"


class S3ImportFiles:
    """The imports bucket. Presigned URLs are SigV4 (every region takes them) and sign no content type, so a
    plain `curl -T file.csv <url>` works."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _s3(self):
        return boto3.client("s3", config=Config(signature_version="s3v4"))

    def put(self, key: str, data: bytes) -> None:
        self._s3.put_object(Bucket=self._settings.imports_bucket, Key=key, Body=data, ContentType="text/csv")

    def upload_url(self, key: str, expires_s: int) -> str:
        return self._s3.generate_presigned_url(
            "put_object", Params={"Bucket": self._settings.imports_bucket, "Key": key}, ExpiresIn=expires_s
        )

    def read(self, key: str) -> Iterator[bytes]:
        body = self._s3.get_object(Bucket=self._settings.imports_bucket, Key=key)["Body"]
        yield from body.iter_chunks(1 << 20)

    def read_range(self, key: str, start: int, end: int) -> bytes:
        answer = self._s3.get_object(Bucket=self._settings.imports_bucket, Key=key, Range=f"bytes={start}-{end - 1}")
        return answer["Body"].read()


class SqsImportQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _sqs(self):
        return boto3.client("sqs")

    def enqueue(self, chunks: list[Chunk]) -> None:
        for start in range(0, len(chunks), _SQS_BATCH):
            batch = chunks[start : start + _SQS_BATCH]
            entries = [{"Id": str(n), "MessageBody": chunk.to_json()} for n, chunk in enumerate(batch)]
            answer = self._sqs.send_message_batch(QueueUrl=self._settings.import_chunks_queue_url, Entries=entries)
            if answer.get("Failed"):
                # Raise so the file's notification is delivered again; chunks queued twice are counted once.
                raise RuntimeError(f"SQS refused {len(answer['Failed'])} of {len(entries)} import chunks")
