"""What a 1,000,000-recipient campaign costs on AWS, from what one campaign on the local runtime asks of AWS per sent
mail, at published us-east-1 prices, against SES alone ($100 per million mails; target total ÷ SES <= 1.03).

The campaign runs as bench/campaigns.py runs it, but with the functions in this process (`Runtime(in_process=True)`)
so bench/counting.py's botocore hooks see every request, and each request is put down to the function whose
invocation made it (a thread-local set around each handler call; the pump's own SQS polls are Lambda's event source
mappings, which SQS bills too). DynamoDB capacity units are computed per request from its parameters and answer:

- reads: GetItem/BatchGetItem per item, Query/Scan per 4 KB of what they return, 1 RRU strongly consistent, 0.5
  eventually; TransactGetItems 2 per item;
- writes: 1 WRU per KB of the item written (its size known from a Put, or from the answer's attributes; else 1),
  2 per item in TransactWriteItems (ConditionCheck included), plus 1 per global secondary index the write reaches
  (an ALL-projected index whose key the item holds, or a KEYS_ONLY index whose key the write sets; an update's
  item is not in its request, so an update to a table with an ALL-projected index is assumed to reach it).

Lambda CPU per mail is the sender's handler time per mail on its own thread (`time.thread_time`; moto serves from
other threads of this process, so `time.process_time` would count AWS's work as Lambda's; both are reported).
Lambda bills duration, not CPU: in the cloud each of the sender's calls also waits on the network, so a second
figure adds an assumed round trip per AWS call (`ROUND_TRIP_MS`).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections import Counter, defaultdict
from contextlib import contextmanager

from bench import campaigns, counting
from closedloop_local import lambdas
from closedloop_local.runtime import Runtime
from infra import wiring

RECIPIENTS = int(os.environ.get("BENCH_COST_RECIPIENTS", "1000"))
CAMPAIGN = 1_000_000
ROUND_TRIP_MS = 8.0  # an assumed in-region round trip per AWS call (DynamoDB single-digit ms, SES more), for duration
PRICES = {  # us-east-1, USD
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "sqs_request": 0.40 / 1e6,
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s": 0.0000166667,
    "events": 1.00 / 1e6,
    "scheduler": 1.00 / 1e6,
    "ses_mail": 0.10 / 1000,
}

_local = threading.local()
_lock = threading.Lock()
requests: Counter = Counter()  # (function, "service.Operation") -> calls
units: Counter = Counter()  # (function, "rru" | "wru") -> capacity units
units_by_api: Counter = Counter()  # ("dynamodb.Operation table", "rru" | "wru") -> capacity units
_indexes = {t.id: t.indexes for t in wiring.TABLES}


def _function() -> str:
    return getattr(_local, "function", None) or "event-source-mappings"


def item_size(item: dict) -> int:
    """An item's size as DynamoDB counts it, roughly: attribute names plus values (low-level JSON form)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict) -> int:
    (kind, inner), *_ = value.items()
    if kind in ("S", "B"):
        return len(inner.encode()) if isinstance(inner, str) else len(inner)
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _value_size(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    return 0


def _wru(table: str, item: dict | None, update_expression: str = "", transactional: bool = False) -> float:
    size = item_size(item) if item else 0
    base = max(1, math.ceil(size / 1024)) * (2 if transactional else 1)
    index_writes = 0
    for index in _indexes.get(table, ()):
        # An update's item is not in the request: assume it is in an ALL-projected index (conservative).
        holds_key = (index.partition_key in item) if item else bool(update_expression)
        if (index.projection == "ALL" and holds_key) or index.partition_key in update_expression:
            index_writes += max(1, math.ceil(size / 1024))
    return base + index_writes


def _rru(consistent: bool, size: int) -> float:
    return max(1, math.ceil(size / 4096)) * (1.0 if consistent else 0.5)


def _before(params: dict, context: dict, **kwargs) -> None:
    context["bench_params"] = params


def _after(event_name: str, parsed: dict, context: dict, **kwargs) -> None:
    _, service, operation = event_name.split(".", 2)
    function = _function()
    rru = wru = 0.0
    params = context.get("bench_params") or {}
    if service == "dynamodb":
        table = params.get("TableName", "")
        consistent = bool(params.get("ConsistentRead"))
        if operation == "GetItem":
            rru = _rru(consistent, item_size(parsed.get("Item") or {}))
        elif operation in ("Query", "Scan"):
            rru = _rru(consistent, sum(item_size(i) for i in parsed.get("Items", [])))
        elif operation == "BatchGetItem":
            for name, request in params.get("RequestItems", {}).items():
                found = parsed.get("Responses", {}).get(name, [])
                strong = bool(request.get("ConsistentRead"))
                rru += sum(_rru(strong, item_size(i)) for i in found)
                rru += _rru(strong, 0) * max(0, len(request.get("Keys", [])) - len(found))
        elif operation == "TransactGetItems":
            rru = 2.0 * len(params.get("TransactItems", []))
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            item = params.get("Item") or parsed.get("Attributes")
            wru = _wru(table, item, params.get("UpdateExpression", ""))
        elif operation == "BatchWriteItem":
            for name, writes in params.get("RequestItems", {}).items():
                for write in writes:
                    wru += _wru(name, (write.get("PutRequest") or {}).get("Item"))
        elif operation == "TransactWriteItems":
            for entry in params.get("TransactItems", []):
                (kind, body), *_ = entry.items()
                wru += _wru(body.get("TableName", ""), body.get("Item"), body.get("UpdateExpression", ""), True)
    with _lock:
        requests[(function, f"{service}.{operation}")] += 1
        where = f"{operation} {params.get('TableName') or ','.join(params.get('RequestItems', {}))}".strip()
        if operation.startswith("Transact"):
            where = f"{operation} " + ",".join(
                sorted({next(iter(e.values())).get("TableName", "") for e in params.get("TransactItems", [])})
            )
        if rru:
            units[(function, "rru")] += rru
            units_by_api[(where, "rru")] += rru
        if wru:
            units[(function, "wru")] += wru
            units_by_api[(where, "wru")] += wru


class _Timed:
    """Per function: invocations, records, and CPU seconds of its handler's thread (and of the whole process)."""

    def __init__(self) -> None:
        self.invocations: Counter = Counter()
        self.records: Counter = Counter()
        self.thread_s: defaultdict[str, float] = defaultdict(float)
        self.process_s: defaultdict[str, float] = defaultdict(float)

    @contextmanager
    def installed(self):
        original = lambdas.load_handler

        def load_handler(function: wiring.Function):
            handler = original(function)

            def timed(event, context):
                _local.function = function.name
                thread, process = time.thread_time(), time.process_time()
                try:
                    return handler(event, context)
                finally:
                    thread, process = time.thread_time() - thread, time.process_time() - process
                    _local.function = None
                    with _lock:
                        self.invocations[function.name] += 1
                        self.records[function.name] += len(event.get("Records", ())) if isinstance(event, dict) else 0
                        self.thread_s[function.name] += thread
                        self.process_s[function.name] += process

            return timed

        lambdas.load_handler = load_handler
        try:
            yield self
        finally:
            lambdas.load_handler = original


def _reset() -> None:
    with _lock:
        requests.clear()
        units.clear()
        units_by_api.clear()


def price(per_mail: dict, memory_gb: dict[str, float], mails: int = CAMPAIGN) -> dict:
    """USD for `mails` mails, per service, from per-mail figures."""
    lambda_gb_s = sum(per_mail["lambda_cpu_s"][f] * memory_gb[f] for f in per_mail["lambda_cpu_s"])
    breakdown = {
        "ses": mails * PRICES["ses_mail"],
        "dynamodb_writes": mails * per_mail["wru"] * PRICES["dynamodb_wru"],
        "dynamodb_reads": mails * per_mail["rru"] * PRICES["dynamodb_rru"],
        "sqs": mails * per_mail["sqs_requests"] * PRICES["sqs_request"],
        "lambda_requests": mails * per_mail["lambda_invocations"] * PRICES["lambda_request"],
        "lambda_duration": mails * lambda_gb_s * PRICES["lambda_gb_s"],
        "eventbridge": mails * per_mail["events"] * PRICES["events"],
        "scheduler": mails * per_mail["scheduler"] * PRICES["scheduler"],
        "secrets_and_other": mails * per_mail["other_requests"] * 0.05 / 10_000,  # Secrets Manager: $0.05 per 10k
    }
    return {k: round(v, 2) for k, v in breakdown.items()}


def measure() -> dict:
    counting.install()
    if (("before-parameter-build.*.*", _before)) not in counting.hooks:
        counting.hooks += [("before-parameter-build.*.*", _before), ("after-call.*.*", _after)]
    timed = _Timed()
    with timed.installed(), Runtime(quiet=True, content_dir=campaigns.REPO, in_process=True) as runtime:

        def start() -> None:
            _reset()
            timed.__init__()

        _campaign, elapsed, _drains = campaigns.run(runtime, RECIPIENTS, "cost", start)
        counted, capacity, capacity_by_api = Counter(requests), Counter(units), Counter(units_by_api)
    mails = RECIPIENTS
    by_api: Counter = Counter()
    for (_function, api), n in counted.items():
        by_api[api] += n
    functions = {f.name: f for f in wiring.FUNCTIONS}
    cpu = {name: timed.thread_s[name] / mails for name in timed.invocations}
    per_mail = {
        "requests": {api: round(n / mails, 4) for api, n in by_api.most_common()},
        "rru": sum(v for (_f, kind), v in capacity.items() if kind == "rru") / mails,
        "wru": sum(v for (_f, kind), v in capacity.items() if kind == "wru") / mails,
        "sqs_requests": sum(n for api, n in by_api.items() if api.startswith("sqs.")) / mails,
        "events": sum(n for api, n in by_api.items() if api.startswith("eventbridge.")) / mails,
        "scheduler": sum(n for api, n in by_api.items() if api == "scheduler.CreateSchedule") / mails,
        "other_requests": sum(n for api, n in by_api.items() if api.startswith("secrets")) / mails,
        "lambda_invocations": sum(timed.invocations.values()) / mails,
        "lambda_cpu_s": cpu,
    }
    memory_gb = {name: functions[name].memory_mb / 1024 for name in timed.invocations}
    breakdown = price(per_mail, memory_gb)
    total = sum(breakdown.values())
    # Duration as Lambda bills it: CPU plus an assumed round trip per AWS call the function made, per mail.
    calls = Counter()
    for (function, _api), n in counted.items():
        calls[function] += n
    with_latency = dict(per_mail, lambda_cpu_s={f: cpu[f] + calls[f] * ROUND_TRIP_MS / 1000 / mails for f in cpu})
    breakdown_latency = price(with_latency, memory_gb)
    total_latency = sum(breakdown_latency.values())
    ses = breakdown["ses"]
    print(f"   {mails:,} campaign mails in {elapsed:.1f} s (functions in-process)", file=sys.stderr, flush=True)
    return {
        "recipients_measured": mails,
        "campaign_size": CAMPAIGN,
        "per_mail": {
            **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in per_mail.items() if k != "lambda_cpu_s"},
            "lambda_cpu_ms": {f: round(v * 1000, 3) for f, v in cpu.items()},
            "lambda_process_cpu_ms": {f: round(timed.process_s[f] / mails * 1000, 3) for f in cpu},
            "requests_by_function": {
                f: round(calls[f] / mails, 4) for f in sorted(calls, key=calls.__getitem__, reverse=True)
            },
            "capacity_by_function": {f"{f}.{k}": round(v / mails, 4) for (f, k), v in sorted(capacity.items())},
            "capacity_by_request": {
                f"{k} {where}": round(v / mails, 4)
                for (where, k), v in capacity_by_api.most_common()
                if v / mails >= 0.01
            },
        },
        "usd_per_million_mails": breakdown,
        "total_usd": round(total, 2),
        "ratio_to_ses": round(total / ses, 4),
        "dominant": max((k for k in breakdown if k != "ses"), key=breakdown.__getitem__),
        "with_round_trips": {
            "round_trip_ms": ROUND_TRIP_MS,
            "usd_per_million_mails": breakdown_latency,
            "ratio_to_ses": round(total_latency / ses, 4),
        },
    }


def breakdown_table(figures: dict) -> str:
    rows = figures["usd_per_million_mails"]
    ses = rows["ses"]
    lines = [f"{'service':<20} {'USD / 1M mails':>15} {'÷ SES':>8}"]
    lines += [f"{name:<20} {usd:>15.2f} {usd / ses:>8.4f}" for name, usd in sorted(rows.items(), key=lambda r: -r[1])]
    lines.append(f"{'total':<20} {figures['total_usd']:>15.2f} {figures['ratio_to_ses']:>8.4f}")
    return "\n".join(lines)


if __name__ == "__main__":
    import contextlib
    import json
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        result = measure()
    print(json.dumps(result, indent=2))
    print(breakdown_table(result))
