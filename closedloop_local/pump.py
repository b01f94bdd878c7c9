"""The local event source mappings: SQS queues and EventBridge rule taps delivered to their handlers.

What Lambda does in the cloud, done by one thread here: receive a batch, build the event Lambda would send, call the
handler, then settle. For SQS: delete the successes, and honour the partial batch response (failures become visible
again after a short backoff, so the queue's redrive policy moves a poison message to its DLQ); a raised exception
fails the whole batch. For a rule tap: one event per invocation, deleted on success, retried on exception (the tap's
DLQ plays the rule target's retry limit).

Termination of `drain`: every failure ends in a DLQ after a bounded number of receives, DLQs are never delivered,
and a deadline bounds handlers that keep creating work (or messages delayed past it).
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any

from infra import wiring

from . import lambdas
from .aws import REGION, QueueRef, Resources

# Seconds a failed message stays invisible before its next delivery (SQS takes whole seconds).
RETRY_BACKOFF_S = 1
IDLE_SLEEP_S = 0.1


@dataclass(frozen=True)
class Source:
    """One queue and the function it feeds."""

    name: str
    queue: QueueRef
    function: wiring.Function
    batch_size: int
    eventbridge: bool  # True: the body is an EventBridge event, delivered one per invocation


def sources_from(resources: Resources) -> list[Source]:
    """Every wiring queue with its consumer, then every rule tap with its target function."""
    sources = []
    for queue in wiring.QUEUES:
        function = wiring.consumer_of(queue)
        sources.append(
            Source(
                name=queue.id,
                queue=resources.queues[queue.id],
                function=function,
                batch_size=function.queue_trigger.batch_size,
                eventbridge=False,
            )
        )
    for tap in resources.taps:
        sources.append(
            Source(name=f"rule:{tap.rule.id}", queue=tap.queue, function=tap.function, batch_size=10, eventbridge=True)
        )
    return sources


class DrainTimeout(Exception):
    def __init__(self, processed: int, left: dict[str, dict[str, int]]) -> None:
        super().__init__(f"work left after the drain deadline: {left}")
        self.processed = processed
        self.left = left


def sqs_record(message: dict, source: Source) -> dict:
    """A received message in the shape of a Lambda SQS event record."""
    attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType", "String"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": source.queue.arn,
        "awsRegion": REGION,
    }


class Pump:
    def __init__(self, sqs: Any, sources: list[Source], *, backoff_s: int = RETRY_BACKOFF_S) -> None:
        self._sqs = sqs
        self.sources = sources
        self._backoff_s = backoff_s
        # Held by whoever delivers: the background loop per pass, drain for its whole run, so nothing is
        # delivered twice at once and drain sees a quiet system when it says so.
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0

    # --- background ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="pump", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._lock:
                    delivered = self.pass_once()
            except Exception:  # noqa: BLE001 - the pump must outlive a moto hiccup
                traceback.print_exc()
                delivered = 0
            if not delivered:
                self._stop.wait(IDLE_SLEEP_S)

    # --- delivery -----------------------------------------------------------------------------------------------

    def pass_once(self) -> int:
        """Deliver one batch from every source; the number of messages delivered."""
        with self._lock:
            return sum(self._deliver(source) for source in self.sources)

    def drain(self, timeout_s: float = 30.0) -> int:
        """Deliver until no queue has visible, in-flight or delayed messages; the number of deliveries."""
        deadline = time.monotonic() + timeout_s
        processed = 0
        with self._lock:
            while True:
                delivered = self.pass_once()
                processed += delivered
                if delivered:
                    continue
                left = self.pending()
                if not left:
                    return processed
                if time.monotonic() >= deadline:
                    raise DrainTimeout(processed, left)
                time.sleep(IDLE_SLEEP_S)

    def pending(self) -> dict[str, dict[str, int]]:
        """Sources that still hold work, with their visible / in-flight / delayed counts."""
        left = {}
        for source in self.sources:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=source.queue.url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            counts = {
                "visible": int(attributes["ApproximateNumberOfMessages"]),
                "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
                "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
            }
            if any(counts.values()):
                left[source.name] = counts
        return left

    def dead_letters(self) -> dict[str, int]:
        """Messages parked in each source's DLQ (only non-empty ones)."""
        counts = {}
        for source in self.sources:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=source.queue.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            if int(attributes["ApproximateNumberOfMessages"]):
                counts[source.name] = int(attributes["ApproximateNumberOfMessages"])
        return counts

    def _deliver(self, source: Source) -> int:
        messages = self._sqs.receive_message(
            QueueUrl=source.queue.url,
            MaxNumberOfMessages=source.batch_size,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        if source.eventbridge:
            self._deliver_events(source, messages)
        else:
            self._deliver_batch(source, messages)
        return len(messages)

    def _deliver_batch(self, source: Source, messages: list[dict]) -> None:
        records = [sqs_record(m, source) for m in messages]
        ids = {r["messageId"] for r in records}
        try:
            result = lambdas.invoke(source.function, {"Records": records})
            failed = {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures", [])} if isinstance(
                result, dict
            ) else set()
            if not failed <= ids:
                # Lambda treats an unknown or empty itemIdentifier as a failure of the whole batch.
                print(f"[pump] {source.function.name}: invalid batchItemFailures {failed - ids}", file=sys.stderr)
                failed = ids
        except Exception:  # noqa: BLE001 - a raised exception fails the whole batch, as in Lambda
            print(f"[pump] {source.function.name} failed on a batch of {len(records)}:", file=sys.stderr)
            traceback.print_exc()
            failed = ids
        self._settle(source, messages, failed)

    def _deliver_events(self, source: Source, messages: list[dict]) -> None:
        failed = set()
        for message in messages:
            try:
                lambdas.invoke(source.function, json.loads(message["Body"]))
            except Exception:  # noqa: BLE001 - EventBridge retries a failed invocation
                print(f"[pump] {source.function.name} failed on an event:", file=sys.stderr)
                traceback.print_exc()
                failed.add(message["MessageId"])
        self._settle(source, messages, failed)

    def _settle(self, source: Source, messages: list[dict], failed: set[str]) -> None:
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=source.queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for message in messages:
            if message["MessageId"] in failed:
                self.failures += 1
                self._sqs.change_message_visibility(
                    QueueUrl=source.queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self._backoff_s
                )
