"""The local event source mappings: SQS queues and EventBridge rule taps delivered to their handlers.

What Lambda does in the cloud, done by one thread here: receive a batch, build the event Lambda would send, call the
handler, then settle. For a DynamoDB stream: batches in order, a failure checkpoints before the first failed record
and retries from there (after a short backoff), and a batch that fails every retry is parked in the mapping's DLQ.
For SQS: delete the successes, and honour the partial batch response (failures become visible again after a short
backoff, so the queue's redrive policy moves a poison message to its DLQ); a raised exception
fails the whole batch. For a rule tap: one event per invocation, deleted on success, retried on exception (the tap's
DLQ plays the rule target's retry limit).

The pump remembers the last error it saw for each message that failed (by SQS MessageId, which a message keeps
when its queue's redrive policy moves it to the DLQ) and for each batch it parked in a stream's DLQ, so
`/_local/dead-letters` can say why a message is there.

Termination of `drain`: every failure ends in a DLQ after a bounded number of receives (or stream retries), DLQs
are never delivered, and a deadline bounds handlers that keep creating work. Messages delayed beyond the runtime
clock's now (closedloop_local.sqs_clock) are not work yet: `drain` leaves them and reports them as scheduled; moving
the clock past them makes them work for the next drain.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra import wiring

from . import dead_letters, lambdas
from .aws import REGION, QueueRef, Resources, StreamRef
from .streams import StreamReader

# Seconds a failed message stays invisible before its next delivery (SQS takes whole seconds).
RETRY_BACKOFF_S = 1
STREAM_RETRY_BACKOFF_S = 0.5
IDLE_SLEEP_S = 0.1
IDLE_MAX_SLEEP_S = 1.0


@dataclass(frozen=True)
class Source:
    """One queue and the function it feeds."""

    name: str
    queue: QueueRef
    function: wiring.Function
    batch_size: int
    eventbridge: bool  # True: the body is an EventBridge event, delivered one per invocation


@dataclass
class StreamSource:
    """A table stream and the function its event source mapping feeds; `buffer` holds records read, not yet done."""

    name: str
    stream: StreamRef
    function: wiring.Function
    reader: StreamReader
    batch_size: int
    max_retries: int
    buffer: list[dict] = field(default_factory=list)
    attempts: int = 0
    retry_at: float = 0.0


def sources_from(resources: Resources) -> list[Source | StreamSource]:
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
    for stream in resources.streams:
        trigger = stream.function.stream_trigger
        reader = StreamReader(trigger, REGION)
        reader.start()
        sources.append(
            StreamSource(
                name=f"stream:{stream.table_id}",
                stream=stream,
                function=stream.function,
                reader=reader,
                batch_size=trigger.batch_size,
                max_retries=trigger.max_retries,
            )
        )
    return sources


class DrainTimeout(Exception):
    def __init__(self, processed: int, left: dict[str, dict[str, int]]) -> None:
        super().__init__(f"work left after the drain deadline: {left}")
        self.processed = processed
        self.left = left


def _lambda_json(value: Any) -> Any:
    """A stream record as Lambda sends it: boto3's datetimes as epoch seconds, binary as base64."""
    if isinstance(value, dict):
        return {k: _lambda_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lambda_json(v) for v in value]
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    return value


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
    def __init__(self, sqs: Any, sources: list[Source], *, invoker: Any, backoff_s: int = RETRY_BACKOFF_S) -> None:
        self._sqs = sqs
        self._invoker = invoker
        self.sources = sources
        self._backoff_s = backoff_s
        # Held by whoever delivers: the background loop per pass, drain for its whole run, so nothing is
        # delivered twice at once and drain sees a quiet system when it says so.
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.reasons: dict[str, str] = {}  # message id -> the last error a delivery of it met

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
        # Every pass polls each queue, tap and stream: an idle pump backs off so it does not keep moto (one
        # request at a time) busy while requests wait. New work is picked up within IDLE_MAX_SLEEP_S.
        sleep = IDLE_SLEEP_S
        while not self._stop.is_set():
            try:
                with self._lock:
                    delivered = self.pass_once()
            except Exception:  # the pump must outlive a moto hiccup
                traceback.print_exc()
                delivered = 0
            sleep = IDLE_SLEEP_S if delivered else min(sleep * 2, IDLE_MAX_SLEEP_S)
            if not delivered:
                self._stop.wait(sleep)

    # --- delivery -----------------------------------------------------------------------------------------------

    def pass_once(self) -> int:
        """Deliver one batch from every source; the number of messages delivered."""
        with self._lock:
            return sum(self._deliver(source) for source in self.sources)

    def drain(self, timeout_s: float = 30.0) -> int:
        """Deliver until no queue has visible or in-flight messages (delays still running on the runtime clock are
        not work yet); the number of deliveries."""
        deadline = time.monotonic() + timeout_s
        processed = 0
        with self._lock:
            while True:
                delivered = self.pass_once()
                processed += delivered
                if delivered:
                    continue
                # Quiet only when two readings agree: moto computes a queue's counts one after another, so a
                # message whose backoff or delay ends between them is in neither; it stays visible until the
                # next receive, which this lock holds back, so the second reading sees it.
                left = self.pending() or self.pending()
                if not left:
                    return processed
                if time.monotonic() >= deadline:
                    raise DrainTimeout(processed, left)
                time.sleep(IDLE_SLEEP_S)

    def pending(self) -> dict[str, dict[str, int]]:
        """Sources that still hold work, with their visible and in-flight counts."""
        left = {}
        for source in self.sources:
            if isinstance(source, StreamSource):
                self._fill(source)
                if source.buffer:
                    left[source.name] = {"visible": len(source.buffer), "in_flight": 0}
                continue
            counts = self._counts(source)
            counts.pop("delayed")
            if any(counts.values()):
                left[source.name] = counts
        return left

    def scheduled(self) -> dict[str, int]:
        """Messages each queue holds until the runtime clock passes their delay (only non-empty queues)."""
        sources = [source for source in self.sources if not isinstance(source, StreamSource)]
        return {source.name: n for source in sources if (n := self._counts(source)["delayed"])}

    def _counts(self, source: Source) -> dict[str, int]:
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=source.queue.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return {
            "visible": int(attributes["ApproximateNumberOfMessages"]),
            "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
            "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
        }

    def dead_letters(self) -> dict[str, int]:
        """Messages parked in each source's DLQ (only non-empty ones)."""
        counts = {}
        for source in self.sources:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=_dlq_url(source), AttributeNames=["ApproximateNumberOfMessages"]
            )["Attributes"]
            if int(attributes["ApproximateNumberOfMessages"]):
                counts[source.name] = int(attributes["ApproximateNumberOfMessages"])
        return counts

    def parked(self) -> list[dict]:
        """Every message in every DLQ, with its source, function and the reason it failed; nothing is consumed."""
        with self._lock:
            return [
                dead_letters.describe(message, source=source.name, function=source.function.name, reasons=self.reasons)
                for source in self.sources
                for message in dead_letters.peek(self._sqs, _dlq_url(source))
            ]

    def _deliver(self, source: Source | StreamSource) -> int:
        if isinstance(source, StreamSource):
            return self._deliver_stream(source)
        # Up to the trigger's maxConcurrency batches at once, as the SQS event source scales out.
        trigger = source.function.queue_trigger
        concurrency = trigger.max_concurrency if trigger and not source.eventbridge else 1
        batches = []
        for _ in range(concurrency):
            messages = self._sqs.receive_message(
                QueueUrl=source.queue.url,
                MaxNumberOfMessages=source.batch_size,
                WaitTimeSeconds=0,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            batches.append(messages)
        deliver = self._deliver_events if source.eventbridge else self._deliver_batch
        if len(batches) == 1:
            deliver(source, batches[0])
        elif batches:
            with ThreadPoolExecutor(max_workers=len(batches)) as pool:
                list(pool.map(lambda batch: deliver(source, batch), batches))
        return sum(len(batch) for batch in batches)

    def _deliver_batch(self, source: Source, messages: list[dict]) -> None:
        records = [sqs_record(m, source) for m in messages]
        ids = {r["messageId"] for r in records}
        try:
            invocation = self._invoker.invoke_batch(source.function, {"Records": records})
            failed = _batch_item_failures(invocation.result)
            reasons = {i: invocation.record_errors.get(i, _unexplained(source.function)) for i in failed}
            if not failed <= ids:
                # Lambda treats an unknown or empty itemIdentifier as a failure of the whole batch.
                print(f"[pump] {source.function.name}: invalid batchItemFailures {failed - ids}", file=sys.stderr)
                reasons = dict.fromkeys(ids, f"invalid batchItemFailures {sorted(map(str, failed - ids))}")
        except Exception as error:  # a raised exception fails the whole batch, as in Lambda
            lambdas.report(error, f"pump {source.name}: batch of {len(records)} failed")
            reasons = lambdas.failure_reasons(error, ids)
        self._settle(source, messages, reasons)

    def _deliver_events(self, source: Source, messages: list[dict]) -> None:
        reasons = {}
        for message in messages:
            try:
                self._invoker.invoke(source.function, json.loads(message["Body"]))
            except Exception as error:  # EventBridge retries a failed invocation
                lambdas.report(error, f"pump {source.name}: event failed")
                reasons.update(lambdas.failure_reasons(error, [message["MessageId"]]))
        self._settle(source, messages, reasons)

    def _fill(self, source: StreamSource) -> None:
        if not source.buffer:
            source.buffer.extend(_lambda_json(record) for record in source.reader.poll())

    def _deliver_stream(self, source: StreamSource) -> int:
        if time.monotonic() < source.retry_at:
            return 0
        self._fill(source)
        batch = source.buffer[: source.batch_size]
        if not batch:
            return 0
        sequence = [record["dynamodb"]["SequenceNumber"] for record in batch]
        try:
            invocation = self._invoker.invoke_batch(source.function, {"Records": batch})
            failed = _batch_item_failures(invocation.result)
            errors = invocation.record_errors
            if not failed <= set(sequence):
                failed = set(sequence)
        except Exception as error:  # a raised exception fails the whole batch
            lambdas.report(error, f"pump {source.name}: batch of {len(batch)} failed")
            failed = set(sequence)
            errors = lambdas.failure_reasons(error, sequence)
        if not failed:
            del source.buffer[: len(batch)]
            source.attempts = 0
            return len(batch)
        # Checkpoint before the first failed record; the retry starts there, keeping the item's order.
        first = min(i for i, number in enumerate(sequence) if number in failed)
        reason = errors.get(sequence[first], _unexplained(source.function))
        del source.buffer[:first]
        source.attempts += 1
        self.failures += 1
        if source.attempts > source.max_retries:
            spent = source.buffer[: len(batch) - first]
            parked = self._sqs.send_message(
                QueueUrl=source.stream.dlq_url,
                MessageBody=json.dumps(
                    {
                        "function": source.function.name,
                        "streamArn": source.stream.arn,
                        "startSequenceNumber": spent[0]["dynamodb"]["SequenceNumber"],
                        "endSequenceNumber": spent[-1]["dynamodb"]["SequenceNumber"],
                        "batchSize": len(spent),
                    }
                ),
            )
            self.reasons[parked["MessageId"]] = reason
            del source.buffer[: len(spent)]
            source.attempts = 0
        else:
            source.retry_at = time.monotonic() + STREAM_RETRY_BACKOFF_S
        return len(batch)

    def _settle(self, source: Source, messages: list[dict], failed: dict[str, str]) -> None:
        """Delete the successes; make each failure visible again soon, remembering why it failed."""
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=source.queue.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        for message in done:
            self.reasons.pop(message["MessageId"], None)
        for message in messages:
            if message["MessageId"] in failed:
                self.reasons[message["MessageId"]] = failed[message["MessageId"]]
                self.failures += 1
                self._sqs.change_message_visibility(
                    QueueUrl=source.queue.url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=self._backoff_s
                )


def _dlq_url(source: Source | StreamSource) -> str:
    return source.stream.dlq_url if isinstance(source, StreamSource) else source.queue.dlq_url


def _batch_item_failures(result: Any) -> set[str]:
    """The itemIdentifiers of a partial batch response (none when the handler returned something else)."""
    if not isinstance(result, dict):
        return set()
    return {f.get("itemIdentifier") for f in result.get("batchItemFailures") or []}


def _unexplained(function: wiring.Function) -> str:
    return f"{function.name} reported the record as failed (batchItemFailures) without raising an error"
