"""CSV import on the local runtime: rows/s of a large file against a bare BatchWriteItem loop writing the same
items to the same moto, and the AWS requests per imported row.

The file goes the way a large file goes: POST {"upload": true}, a plain PUT to the presigned URL, the bucket's
notification, the planner, the chunk workers (in their own processes, as Lambda runs them). The floor writes the
same profile and address-claim items with BatchWriteItem, 25 at a time, from one client, to the same server.
AWS requests are counted where moto receives them, less those of the local event source mappings (SQS polling,
stream reads), which Lambda makes on the functions' behalf in the cloud.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

import boto3

from closedloop_local import moto_speedups
from closedloop_local.client import LocalClient
from closedloop_local.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
# 100,000 rows take about 10 minutes here (import, drain, floor); `make bench` measures 20,000 unless told so.
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "20000"))
# What the local event source mappings (the pump, the stream reader) ask moto: not the functions' own requests.
_MAPPING = {
    "AmazonSQS.ReceiveMessage",
    "AmazonSQS.DeleteMessageBatch",
    "AmazonSQS.DeleteMessage",
    "AmazonSQS.ChangeMessageVisibility",
    "AmazonSQS.GetQueueAttributes",
}


class _Requests:
    """Counts the requests moto's server dispatches, by operation (installed on the runtime's dispatcher)."""

    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._original = moto_speedups.Dispatcher.__call__

    def install(self) -> None:
        original, counts, lock = self._original, self.counts, self._lock

        def counted(dispatcher, environ, start_response):
            target = environ.get("HTTP_X_AMZ_TARGET") or f"s3.{environ['REQUEST_METHOD']}"
            with lock:
                counts[target] += 1
            return original(dispatcher, environ, start_response)

        moto_speedups.Dispatcher.__call__ = counted

    def uninstall(self) -> None:
        moto_speedups.Dispatcher.__call__ = self._original

    def functions_only(self) -> collections.Counter:
        return collections.Counter(
            {k: v for k, v in self.counts.items() if k not in _MAPPING and not k.startswith("DynamoDBStreams")}
        )


def _csv(rows: int, prefix: str) -> bytes:
    lines = ["email,first_name,last_name,birthday,timezone,city"]
    zones = ("Europe/Berlin", "America/New_York", "Asia/Tokyo")
    for n in range(rows):
        birthday = f"19{50 + n % 50}-{1 + n % 12:02d}-{1 + n % 28:02d}"
        lines.append(f"{prefix}{n}@example.com,First{n},Last{n},{birthday},{zones[n % 3]},City {n % 97}")
    return ("\n".join(lines) + "\n").encode()


def _floor(endpoint: str, rows: int) -> float:
    """Seconds a bare BatchWriteItem loop takes to write `rows` profiles and their claims to the same moto."""
    db = boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    requests = []
    for n in range(rows):
        pid, email = f"floor-{n}", f"floor{n}@example.com"
        profile = {
            "profile_id": {"S": pid},
            "email": {"S": email},
            "status": {"S": "subscribed"},
            "attributes": {
                "M": {
                    "first_name": {"S": f"First{n}"},
                    "last_name": {"S": f"Last{n}"},
                    "birthday": {"S": "1970-01-01"},
                    "timezone": {"S": "Europe/Berlin"},
                    "city": {"S": f"City {n % 97}"},
                }
            },
            "consent": {"M": {"source": {"S": "import"}, "at": {"S": "2026-03-01T12:00:00Z"}, "detail": {"S": "x"}}},
            "interests": {"M": {}},
            "event_counts": {"M": {}},
            "revenue": {"M": {}},
            "writes": {"N": "1"},
            "created_at": {"S": "2026-03-01T12:00:00Z"},
            "updated_at": {"S": "2026-03-01T12:00:00Z"},
            "bday_shard": {"S": "bday#1"},
            "bday_due_at": {"S": "2027-01-01T08:00:00Z#01-01#Europe/Berlin"},
            "idle_shard": {"S": "idle#1"},
            "idle_due_at": {"S": "2026-04-30T12:00:00Z"},
        }
        requests.append(("profiles", {"PutRequest": {"Item": profile}}))
        requests.append(("ledger", {"PutRequest": {"Item": {"pk": {"S": f"email#{email}"}, "profile_id": {"S": pid}}}}))
    started = time.perf_counter()
    for start in range(0, len(requests), 25):
        batch: dict[str, list] = {}
        for table, request in requests[start : start + 25]:
            batch.setdefault(table, []).append(request)
        while batch:
            batch = db.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
    return time.perf_counter() - started


def measure() -> dict:
    requests = _Requests()
    requests.install()
    try:
        with Runtime(quiet=True, content_dir=REPO) as runtime:
            client = LocalClient(runtime.base_url, runtime.api_key)
            client.set_clock("2026-03-01T12:00:00Z")
            data = _csv(ROWS, "bench")
            requests.counts.clear()
            started = time.perf_counter()
            answer = client.ok("POST", "/v1/imports?status=subscribed&consent_source=bench", {"upload": True})
            put = urllib.request.Request(answer["upload_url"], data=data, method="PUT")
            urllib.request.urlopen(put, timeout=600).read()
            while (report := client.ok("GET", f"/v1/imports/{answer['import_id']}"))["status"] != "done":
                time.sleep(0.5)
            elapsed = time.perf_counter() - started
            counted = requests.functions_only()
            assert report["created"] == ROWS, report
            print(f"   imported {ROWS:,} rows in {elapsed:.1f} s", file=sys.stderr, flush=True)
            # The profiles stream's records reach threshold-crossings first: the floor then runs on a quiet server.
            LocalClient(runtime.base_url, timeout_s=1800).ok("POST", "/_local/drain?timeout=1800", auth=False)
            floor = _floor(runtime._moto_endpoint, ROWS)
    finally:
        requests.uninstall()
    import_rate, floor_rate = ROWS / elapsed, ROWS / floor
    return {
        "rows": ROWS,
        "import_s": round(elapsed, 1),
        "floor_s": round(floor, 1),
        "rows_per_s": round(import_rate),
        "floor_rows_per_s": round(floor_rate),
        "ratio": round(import_rate / floor_rate, 2),
        "aws_requests_per_row": round(sum(counted.values()) / ROWS, 3),
        "requests": dict(counted.most_common()),
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
