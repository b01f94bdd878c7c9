"""A campaign at scale on the local runtime: AWS requests per recipient, wall time per recipient at two audience
sizes (flat: their ratio about 1) and the dispatcher's peak memory at both (bounded: about the same).

Each size gets a fresh runtime (fresh moto, fresh worker processes, so a peak is that run's own). The subscribed
profiles are written straight to moto with BatchWriteItem (seeding is not what is measured); the campaign is then
driven through the admin API as a marketer would: `POST /v1/campaigns`, `POST …/send`, drain until `sent`.

AWS requests are counted where moto receives them (the functions run in their own processes, out of reach of
bench/counting.py's botocore hooks), less what the local event source mappings ask (SQS polling, stream reads) and
less the bench's own status polls (made with their own access key). The dispatcher's peak memory is the peak
resident set (VmHWM) of the dispatch function's worker processes, read from /proc before the runtime stops: the
interpreter and its imports included, as Lambda's "Max Memory Used" reports it.
"""

from __future__ import annotations

import collections
import os
import sys
import threading
import time
from pathlib import Path

import boto3

from closedloop_local import aws, moto_speedups
from closedloop_local.client import LocalClient
from closedloop_local.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-03-01T12:00:00Z"
SMALL = 1_000
# 10,000 recipients took 13.6 minutes here (moto's SQS ReceiveMessage walks the whole queue, so a deep send queue
# slows every receive): `make bench` measures 5,000 unless BENCH_CAMPAIGN_LARGE=10000 asks for the brief's size.
LARGE = int(os.environ.get("BENCH_CAMPAIGN_LARGE", "5000"))
POLL_KEY = "bench-poll"  # the access key of the bench's own status reads, left out of the counts
# What the local event source mappings ask moto (Lambda's pollers in the cloud), not the functions themselves.
_MAPPING = {
    "sqs.ReceiveMessage",
    "sqs.DeleteMessageBatch",
    "sqs.DeleteMessage",
    "sqs.ChangeMessageVisibility",
    "sqs.ChangeMessageVisibilityBatch",
    "sqs.GetQueueAttributes",
}
_REST = {  # (service, method, first path segments) -> operation, for the REST services moto serves
    ("ses", "POST", "/v2/email/outbound-emails"): "SendEmail",
    ("ses", "GET", "/v2/email/account"): "GetAccount",
    ("scheduler", "POST", "/schedules"): "CreateSchedule",
    ("scheduler", "DELETE", "/schedules"): "DeleteSchedule",
    ("scheduler", "GET", "/schedules"): "GetSchedule",
}


def operation(environ: dict) -> tuple[str, str]:
    """(`service.Operation`, access key) of a request moto receives, named as botocore names them."""
    credential = environ.get("HTTP_AUTHORIZATION", "").partition("Credential=")[2].split(",")[0].split("/")
    key, service = (credential[0], credential[3]) if len(credential) > 3 else ("", "s3")
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        prefix, _, name = target.rpartition(".")
        return f"{'dynamodbstreams' if prefix.startswith('DynamoDBStreams') else _service_name(service)}.{name}", key
    method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
    for (svc, verb, prefix), name in _REST.items():
        if svc == service and verb == method and path.startswith(prefix):
            return f"{_service_name(service)}.{name}", key
    return f"{_service_name(service)}.{method} {'/'.join(path.split('/')[:3])}", key


def _service_name(signing_name: str) -> str:
    return {"ses": "sesv2", "events": "events"}.get(signing_name, signing_name)


class MotoRequests:
    """Counts the requests moto's server dispatches, by operation (installed on the runtime's dispatcher)."""

    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._original = moto_speedups.Dispatcher.__call__

    def __enter__(self) -> MotoRequests:
        original, counts, lock = self._original, self.counts, self._lock

        def counted(dispatcher, environ, start_response):
            name, key = operation(environ)
            if key != POLL_KEY:
                with lock:
                    counts[name] += 1
            return original(dispatcher, environ, start_response)

        moto_speedups.Dispatcher.__call__ = counted
        return self

    def __exit__(self, *exc) -> None:
        moto_speedups.Dispatcher.__call__ = self._original

    def functions_only(self) -> collections.Counter:
        return collections.Counter(
            {k: v for k, v in self.counts.items() if k not in _MAPPING and not k.startswith("dynamodbstreams")}
        )


def seed(table: str, endpoint: str, count: int, group: str) -> None:
    """`count` subscribed profiles in `group`, written with BatchWriteItem (boto3's batch writer)."""
    dynamodb = boto3.resource(
        "dynamodb", endpoint_url=endpoint, region_name=aws.REGION, aws_access_key_id=POLL_KEY, aws_secret_access_key="t"
    )
    with dynamodb.Table(table).batch_writer() as batch:
        for n in range(count):
            profile_id = f"{group}-{n:06}"
            batch.put_item(
                Item={
                    "profile_id": profile_id,
                    "email": f"{profile_id}@example.net",
                    "status": "subscribed",
                    "attributes": {"first_name": f"First{n}", "group": group},
                    "consent": {"source": "bench", "at": NOW, "detail": "seeded"},
                    "interests": {},
                    "event_counts": {},
                    "revenue": {},
                    "offers_sent": {},
                    "created_at": NOW,
                    "updated_at": NOW,
                    "writes": 1,
                }
            )


def _worker_peaks_kib(function_name: str) -> list[int]:
    """VmHWM (peak resident set, KiB) of this process's worker processes running `function_name`."""
    peaks = []
    me = str(os.getpid())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if fields.get("PPid", "").strip() != me or b"closedloop_local.lambdas" not in argv:
            continue
        if function_name.encode() in argv and "VmHWM" in fields:
            peaks.append(int(fields["VmHWM"].split()[0]))
    return peaks


def _status(table, campaign_id: str) -> str:
    item = table.get_item(Key={"pk": f"campaign#{campaign_id}", "sk": "campaign"}, ConsistentRead=True).get("Item")
    return (item or {}).get("status", "?")


def run(runtime: Runtime, recipients: int, group: str, on_start=lambda: None) -> tuple[dict, float, int]:
    """Seed `recipients` profiles, create and send a campaign to them through the admin API, drain until it is
    `sent` and every mail went out: (the campaign as GET answers it, seconds from create to the last mail, drains).
    `on_start` is called once the profiles are in, just before the campaign is created."""
    client = LocalClient(runtime.base_url, runtime.api_key, timeout_s=1800)
    client.set_clock(NOW)
    endpoint = runtime._moto_endpoint
    seed(runtime.resources.tables["profiles"], endpoint, recipients, group)
    campaigns = boto3.resource(
        "dynamodb", endpoint_url=endpoint, region_name=aws.REGION, aws_access_key_id=POLL_KEY, aws_secret_access_key="t"
    ).Table(runtime.resources.tables["campaigns"])
    rules = {"field": "attributes.group", "op": "==", "value": group}
    body = {"name": f"bench {recipients}", "template": "newsletter-demo", "rules": rules, "topic": "news"}
    on_start()
    started = time.perf_counter()
    campaign_id = client.ok("POST", "/v1/campaigns", body)["campaign_id"]
    client.ok("POST", f"/v1/campaigns/{campaign_id}/send")
    drains = 0
    # `sent`: every page's requests are queued; the last of them may still wait out their pacing delay.
    while (status := _status(campaigns, campaign_id)) != "sent" or client.outbox_size() < recipients:
        answer = client.ok("POST", "/_local/drain?timeout=1800", auth=False)
        drains += 1
        if answer["scheduled"]:
            client.advance(60)  # pacing delays (DelaySeconds) run on the runtime clock: move it, do not wait
        assert drains < 50, f"campaign {campaign_id} is still {status}"
    elapsed = time.perf_counter() - started
    campaign = client.ok("GET", f"/v1/campaigns/{campaign_id}")
    sent = client.outbox_size()
    assert campaign["targeted"] == recipients and sent == recipients, (campaign["targeted"], sent)
    return campaign, elapsed, drains


def measure_at(recipients: int) -> dict:
    with MotoRequests() as requests, Runtime(quiet=True, content_dir=REPO) as runtime:
        _campaign, elapsed, drains = run(runtime, recipients, f"bench{recipients}", requests.counts.clear)
        counted = requests.functions_only()
        peaks = _worker_peaks_kib("dispatch")
        sender_peaks = _worker_peaks_kib("sender")
    print(f"   {recipients:,} recipients sent in {elapsed:.1f} s", file=sys.stderr, flush=True)
    total = sum(counted.values())
    return {
        "recipients": recipients,
        "wall_s": round(elapsed, 1),
        "drains": drains,
        "wall_ms_per_recipient": round(elapsed / recipients * 1000, 2),
        "aws_requests_per_recipient": round(total / recipients, 3),
        "requests_per_recipient": {k: round(v / recipients, 4) for k, v in counted.most_common()},
        "requests": dict(counted.most_common()),
        "dispatch_workers": len(peaks),
        "dispatch_peak_rss_mib": round(max(peaks) / 1024, 1) if peaks else None,
        "sender_peak_rss_mib": round(max(sender_peaks) / 1024, 1) if sender_peaks else None,
    }


def measure() -> dict:
    small, large = measure_at(SMALL), measure_at(LARGE)
    return {
        "small": small,
        "large": large,
        "wall_per_recipient_ratio": round(large["wall_ms_per_recipient"] / small["wall_ms_per_recipient"], 2),
        "requests_per_recipient_ratio": round(
            large["aws_requests_per_recipient"] / small["aws_requests_per_recipient"], 3
        ),
        "dispatch_peak_ratio": round(large["dispatch_peak_rss_mib"] / small["dispatch_peak_rss_mib"], 2),
    }


if __name__ == "__main__":
    import contextlib
    import json
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        figures = measure()
    print(json.dumps(figures, indent=2))
