"""Why a batch handler failed each record it failed: the error's last line, by record id.

Powertools' batch processors turn a record's exception into a `batchItemFailures` entry and keep the reason to
themselves (Lambda shows no more). The local runtime wants to say why a message ended in a dead-letter queue, so an
execution environment wraps the processors' failure handler and returns what it collected with the result.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_collected: ContextVar[dict[str, str] | None] = ContextVar("closedloop_record_errors", default=None)


def last_line(error: BaseException) -> str:
    """The last line a traceback of `error` ends with: `ErrorType: message` unless the message spans lines."""
    return "".join(traceback.format_exception_only(error)).strip().splitlines()[-1]


def record_id(record: Any) -> str | None:
    """The id `batchItemFailures` uses for a record: an SQS message id or a stream record's sequence number."""
    raw = getattr(record, "raw_event", record)
    if isinstance(raw, dict):
        return raw.get("messageId") or (raw.get("dynamodb") or {}).get("SequenceNumber")
    return getattr(record, "messageId", None)


def install() -> None:
    """Wrap Powertools' failure handler once, so failures inside `collecting()` are recorded."""
    from aws_lambda_powertools.utilities.batch.base import BasePartialProcessor

    original = BasePartialProcessor.failure_handler
    if getattr(original, "_closedloop_records_errors", False):
        return

    def failure_handler(self, record, exception):
        collected = _collected.get()
        identifier = record_id(record)
        if collected is not None and identifier and exception[1] is not None:
            collected[identifier] = last_line(exception[1])
        return original(self, record, exception)

    failure_handler._closedloop_records_errors = True
    BasePartialProcessor.failure_handler = failure_handler


@contextmanager
def collecting() -> Iterator[dict[str, str]]:
    """Record ids and their errors, for the failures of the invocation run inside."""
    collected: dict[str, str] = {}
    token = _collected.set(collected)
    try:
        yield collected
    finally:
        _collected.reset(token)
