"""The sending pause in DynamoDB (the ledger's `sending#state`), the held messages (the `held` table) and the
release queue (SQS). Low-level client: the hold is one TransactWriteItems across two tables with conditions whose
cancellation reasons must be read in the order written.
"""

from __future__ import annotations

import json
from functools import cached_property

import boto3
from botocore.exceptions import ClientError

from closedloop.adapters.activity import _client
from closedloop.clock import parse_instant
from closedloop.pause import Held, Pause
from closedloop.sending import SendRequest
from closedloop.settings import Settings
from closedloop.values import MessageStatus

STATE_KEY = "sending#state"
PAUSED = "paused"
STATUS_RETENTION_DAYS = 400  # as closedloop.adapters.dynamo.SEND_RETENTION_DAYS: a held status lives as any other


def pause_of(item: dict | None) -> Pause | None:
    """The pause a `sending#state` item (low-level form) stands for; None while sending runs."""
    if not item or item.get("state", {}).get("S") != PAUSED:
        return None
    return Pause(pause_id=item["pause_id"]["S"], reason=item["reason"]["S"], since=item["at"]["S"])


def status_item(status: MessageStatus) -> dict:
    """A `message#<id>` status item as closedloop.adapters.dynamo.DynamoLedger writes it (low-level form)."""
    expires = int(parse_instant(status.at).timestamp()) + STATUS_RETENTION_DAYS * 86400
    return {
        "pk": {"S": f"message#{status.message_id}"},
        "state": {"S": status.state},
        "body": {"S": json.dumps(status._asdict(), separators=(",", ":"))},
        "profile_id": {"S": status.profile_id},
        "expires_at": {"N": str(expires)},
    }


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoSendingControl:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return _client()

    def _state_key(self) -> dict:
        return {"pk": {"S": STATE_KEY}}

    def pause_state(self) -> Pause | None:
        item = self._client.get_item(
            TableName=self._settings.ledger_table, Key=self._state_key(), ConsistentRead=True
        ).get("Item")
        return pause_of(item)

    def pause(self, pause: Pause) -> Pause:
        try:
            self._client.put_item(
                TableName=self._settings.ledger_table,
                Item={
                    **self._state_key(),
                    "state": {"S": PAUSED},
                    "pause_id": {"S": pause.pause_id},
                    "reason": {"S": pause.reason},
                    "at": {"S": pause.since},
                },
                ConditionExpression="attribute_not_exists(pk) OR #s <> :paused",
                ExpressionAttributeNames={"#s": "state"},
                ExpressionAttributeValues={":paused": {"S": PAUSED}},
            )
            return pause
        except ClientError as error:
            if not _conditional_failed(error):
                raise
        return self.pause_state() or pause  # paused already: the first pause stands

    def resume(self) -> Pause | None:
        old = self._client.delete_item(
            TableName=self._settings.ledger_table, Key=self._state_key(), ReturnValues="ALL_OLD"
        ).get("Attributes")
        return pause_of(old)

    def hold(self, request: SendRequest, pause: Pause, status: MessageStatus) -> str:
        """One transaction: the held message (new, or held under an earlier pause), its status, the pause still
        standing, the send key never reserved. The reasons come back in this order."""
        ledger, held = self._settings.ledger_table, self._settings.held_table
        items = [
            {
                "Put": {
                    "TableName": held,
                    "Item": {
                        "profile_id": {"S": request.profile_id},
                        "send_key": {"S": request.send_key},
                        "message_id": {"S": request.message_id},
                        "pause_id": {"S": pause.pause_id},
                        "held_at": {"S": status.at},
                        "body": {"S": request.to_json()},
                    },
                    # A message held under an earlier pause (released, then held again before the release job
                    # forgot it) is taken over by this pause, so that job's conditional delete leaves it alone.
                    "ConditionExpression": "attribute_not_exists(send_key) OR pause_id <> :pause",
                    "ExpressionAttributeValues": {":pause": {"S": pause.pause_id}},
                }
            },
            {"Put": {"TableName": ledger, "Item": status_item(status)}},
            {
                "ConditionCheck": {
                    "TableName": ledger,
                    "Key": self._state_key(),
                    "ConditionExpression": "#s = :paused",
                    "ExpressionAttributeNames": {"#s": "state"},
                    "ExpressionAttributeValues": {":paused": {"S": PAUSED}},
                }
            },
            {
                "ConditionCheck": {
                    "TableName": ledger,
                    "Key": {"pk": {"S": f"send#{request.send_key}"}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            self._client.transact_write_items(TransactItems=items)
            return "held"
        except ClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
            if len(reasons) != len(items) or "ConditionalCheckFailed" not in reasons:
                raise
            failed = [code == "ConditionalCheckFailed" for code in reasons]
            if failed[3]:
                return "duplicate"
            if failed[2]:
                return "resumed"
            return "already_held"

    def held_count(self) -> int:
        """A consistent Scan counting the held table: it holds nothing but the backlog, so the cost follows it."""
        count, start = 0, None
        while True:
            page = self._client.scan(
                TableName=self._settings.held_table,
                Select="COUNT",
                ConsistentRead=True,
                **({"ExclusiveStartKey": start} if start else {}),
            )
            count += page.get("Count", 0)
            start = page.get("LastEvaluatedKey")
            if not start:
                return count

    def held_page(self, after: str | None, limit: int) -> tuple[list[Held], str | None]:
        page = self._client.scan(
            TableName=self._settings.held_table,
            Limit=limit,
            ConsistentRead=True,
            **({"ExclusiveStartKey": json.loads(after)} if after else {}),
        )
        held = [Held(SendRequest.from_json(i["body"]["S"]), i["pause_id"]["S"]) for i in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        return held, json.dumps(start, separators=(",", ":"), sort_keys=True) if start else None

    def unhold(self, held: Held) -> bool:
        try:
            self._client.delete_item(
                TableName=self._settings.held_table,
                Key={"profile_id": {"S": held.request.profile_id}, "send_key": {"S": held.request.send_key}},
                ConditionExpression="pause_id = :pause",
                ExpressionAttributeValues={":pause": {"S": held.pause_id}},
            )
            return True
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise


class SqsReleaseQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return boto3.client("sqs")

    def enqueue(self, job: dict) -> None:
        self._client.send_message(QueueUrl=self._settings.release_queue_url, MessageBody=json.dumps(job))
