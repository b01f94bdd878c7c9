"""Counts AWS requests with botocore event hooks, on every client of every session (pynamodb has its own)."""

from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager

import botocore.session

_installed = False
_lock = threading.Lock()
requests: Counter = Counter()  # "dynamodb.TransactWriteItems" -> calls
items_read: Counter = Counter()  # operation -> items returned by Query/Scan/GetItem/BatchGetItem
# More (event, handler) pairs registered on every client created after install() (bench/cost.py's capacity units).
hooks: list = []


def _before(event_name: str, **kwargs) -> None:
    # event_name: before-call.<service>.<Operation>
    _, service, operation = event_name.split(".", 2)
    with _lock:
        requests[f"{service}.{operation}"] += 1


def _after(event_name: str, parsed: dict, **kwargs) -> None:
    _, service, operation = event_name.split(".", 2)
    if service != "dynamodb":
        return
    read = parsed.get("ScannedCount", parsed.get("Count"))
    if operation == "GetItem":
        read = 1 if parsed.get("Item") else 0
    elif operation == "BatchGetItem":
        read = sum(len(v) for v in parsed.get("Responses", {}).values())
    if read is not None:
        with _lock:
            items_read[operation] += read


def install() -> None:
    """Register the hooks on every botocore client created from now on."""
    global _installed
    if _installed:
        return
    original = botocore.session.Session.create_client

    def create_client(self, *args, **kwargs):
        client = original(self, *args, **kwargs)
        client.meta.events.register("before-call.*.*", _before)
        client.meta.events.register("after-call.*.*", _after)
        for event, hook in hooks:
            client.meta.events.register(event, hook)
        return client

    botocore.session.Session.create_client = create_client
    _installed = True


@contextmanager
def counting():
    """Yield (requests, items_read) counters holding only what happened inside the block."""
    before_requests, before_items = Counter(requests), Counter(items_read)
    delta_requests, delta_items = Counter(), Counter()
    yield delta_requests, delta_items
    delta_requests.update(requests - before_requests)
    delta_items.update(items_read - before_items)
