"""Durable deferral of send requests: back on the send queue, or in the deferred table until they fall due.

A request deferred by up to SQS's 15 minutes goes back on the send queue with DelaySeconds. A longer wait (a night,
a week of frequency cap) is a due item (closedloop.due_items, kind `deferred`, keyed by the send key) in the
deferred table; the `deferrals` function's tick, every minute, puts the due ones on the send queue and removes
them. Either way the request passes the whole send gate again, and its send key makes every repeat harmless.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from closedloop import due_items
from closedloop.due_items import DueItem
from closedloop.errors import InvalidInput
from closedloop.sending import SendRequest

if TYPE_CHECKING:
    from closedloop.ports import DueItems, SendQueue

KIND = "deferred"
SQS_MAX_DELAY_S = 900
# An item the tick never took (it stayed broken for a month) expires rather than surprising anyone later.
RETENTION = timedelta(days=30)


def defer(request: SendRequest, until: datetime, now: datetime, *, queue: SendQueue, store: DueItems) -> str:
    """Make the request pass the gate again at `until`: 'queued' (SQS delay) or 'stored' (the deferred table).

    The same send key deferred to the same instant twice is one stored item."""
    wait = (until - now).total_seconds()
    if wait <= SQS_MAX_DELAY_S:
        queue.enqueue([request], delay_seconds=max(0, math.ceil(wait)))
        return "queued"
    item = DueItem(KIND, request.send_key, until, request.to_json(), request.profile_id)
    store.put(item, expires_at=int((until + RETENTION).timestamp()))
    return "stored"


def run_tick(store: DueItems, queue: SendQueue, now: datetime, out_of_time: Callable[[], bool] = lambda: False) -> dict:
    """Put every deferred request due at `now` on the send queue (batches of 10), then remove it."""
    unreadable = 0

    def enqueue(items: list[DueItem]) -> None:
        nonlocal unreadable
        requests = []
        for item in items:
            try:
                requests.append(SendRequest.from_json(item.body))
            except (InvalidInput, TypeError):
                unreadable += 1  # could never be sent: removed with the rest, and reported
        if requests:
            queue.enqueue(requests)

    report = due_items.tick(store, KIND, now, enqueue, out_of_time).summary()
    return {**report, "unreadable": unreadable}
