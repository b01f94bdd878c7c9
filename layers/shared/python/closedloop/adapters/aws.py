"""Small AWS adapters: SQS queues and the EventBridge publisher. Each creates its boto3 client lazily."""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from closedloop.settings import Settings
from closedloop.values import Activity

if TYPE_CHECKING:
    from closedloop.sending import SendRequest

_SQS_BATCH = 10
_EVENTS_BATCH = 10  # PutEvents limit


class SqsSendQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings  # the URL is read on first use: a function without the queue never needs it

    @cached_property
    def _client(self):
        return boto3.client("sqs")

    def enqueue(self, requests: list[SendRequest], delay_seconds: int = 0) -> None:
        for start in range(0, len(requests), _SQS_BATCH):
            chunk = requests[start : start + _SQS_BATCH]
            entries = [
                {"Id": str(n), "MessageBody": r.to_json(), "DelaySeconds": delay_seconds} for n, r in enumerate(chunk)
            ]
            response = self._client.send_message_batch(QueueUrl=self._settings.send_queue_url, Entries=entries)
            if response.get("Failed"):
                # Raise so the caller's retry repeats the whole batch; the send ledger absorbs the repeats.
                raise RuntimeError(f"SQS refused {len(response['Failed'])} of {len(entries)} send requests")


class SqsReactionQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        # The click path's one call: without botocore's parameter validation, as the activity adapter's client
        # (the request is built here, by tested code).
        return boto3.client("sqs", config=Config(parameter_validation=False))

    def enqueue(self, activity: Activity, step: str = "record", delay_seconds: int = 0) -> None:
        body = json.dumps({"step": step, "activity": activity.to_dict()}, separators=(",", ":"))
        self._client.send_message(
            QueueUrl=self._settings.reactions_queue_url, MessageBody=body, DelaySeconds=delay_seconds
        )


class EventBridgePublisher:
    def __init__(self, settings: Settings, source: str = "closedloop") -> None:
        self._settings = settings
        self._source = source

    @cached_property
    def _client(self):
        return boto3.client("events")

    def publish(self, detail_type: str, detail: dict) -> None:
        self.publish_many(detail_type, [detail])

    def publish_many(self, detail_type: str, details: list[dict]) -> None:
        for start in range(0, len(details), _EVENTS_BATCH):
            entries = [
                {
                    "EventBusName": self._settings.event_bus_name,
                    "Source": self._source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                }
                for detail in details[start : start + _EVENTS_BATCH]
            ]
            response = self._client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                # Raise so the caller's retry repeats the batch; consumers key on the events' own ids.
                raise RuntimeError(f"EventBridge refused {response['FailedEntryCount']} {detail_type} event(s)")
