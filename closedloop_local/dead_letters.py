"""What a dead-letter queue holds, read without consuming it: each message is received, then made visible again."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

PEEK_HOLD_S = 30  # how long a peeked message stays invisible if the peek dies before handing it back
_MOST = 10_000  # a bound on one peek; a local DLQ never holds that many


def peek(sqs: Any, queue_url: str) -> list[dict]:
    """Every message in the queue, oldest receive first; afterwards they are all visible again."""
    seen: dict[str, dict] = {}
    while len(seen) < _MOST:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=PEEK_HOLD_S,  # held while reading on, so the next receive returns the next ones
            MessageSystemAttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        if not batch:
            break
        seen.update((message["MessageId"], message) for message in batch)
    handles = [message["ReceiptHandle"] for message in seen.values()]
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(handles[start : start + 10])
            ],
        )
    return list(seen.values())


def describe(message: dict, *, source: str, function: str, reasons: dict[str, str]) -> dict:
    """One parked message as /_local/dead-letters shows it."""
    body: Any = message["Body"]
    try:
        body = json.loads(body)
    except ValueError:
        pass
    sent_ms = int((message.get("Attributes") or {}).get("SentTimestamp", 0))
    return {
        "source": source,
        "function": function,
        "message_id": message["MessageId"],
        "sent_at": datetime.fromtimestamp(sent_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if sent_ms else None,
        "reason": reasons.get(message["MessageId"], "no failed delivery of this message was seen"),
        "body": body,
    }
