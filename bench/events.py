"""Events in bulk: the AWS requests an integrator's batch of 100 events costs, per event."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bench.counting import counting
from bench.world import context, embedded_aws
from closedloop import profiles, services
from closedloop_local import lambdas
from infra import wiring

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
BATCH = 100
PEOPLE = 10


def _request(method: str, path: str, body: dict | None, api_key: str) -> dict:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"authorization": f"Bearer {api_key}", "content-type": "application/json"},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "requestId": "bench",
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def _batch() -> dict:
    """Half by profile id, half by address; visits, carts and purchases, as a shop's hourly sync might send."""
    kinds = [
        ("visit", {}),
        ("cart_updated", {"cart_id": "c", "total": 20, "currency": "EUR", "items": [{"sku": "mug"}]}),
        ("purchase", {"order_id": "o", "total": 20, "currency": "EUR"}),
    ]
    events = []
    for n in range(BATCH):
        kind, properties = kinds[n % len(kinds)]
        who = {"profile_id": f"p-ev-{n % PEOPLE}"} if n % 2 else {"email": f"p-ev-{n % PEOPLE}@example.net"}
        occurred = (NOW - timedelta(seconds=BATCH - n)).strftime("%Y-%m-%dT%H:%M:%SZ")  # a second apart, in order
        events.append(
            {**who, "type": kind, "properties": properties, "event_id": f"bench-{n}", "occurred_at": occurred}
        )
    return {"events": events}


def measure() -> dict:
    with embedded_aws(NOW) as (resources, _clock):
        for n in range(PEOPLE):
            body = {"email": f"p-ev-{n}@example.net", "status": "subscribed", "attributes": {"first_name": "Ada"}}
            write = profiles.parse_profile_write(f"p-ev-{n}", body, NOW)
            profiles.upsert(services.profiles(), write, services.config(), NOW)
        admin = lambdas.load_handler(wiring.ADMIN)
        warm = admin(_request("GET", "/v1/profiles/p-ev-0", None, resources.api_key), context(wiring.ADMIN))
        assert warm["statusCode"] == 200, warm
        with counting() as (requests, _):
            answer = admin(_request("POST", "/v1/events", _batch(), resources.api_key), context(wiring.ADMIN))
        assert answer["statusCode"] == 202, answer
        assert all(r["recorded"] for r in json.loads(answer["body"])["results"])
    return {
        "aws_requests_per_event": round(sum(requests.values()) / BATCH, 2),
        "requests": dict(requests),
        "batch": BATCH,
        "distinct_addresses": PEOPLE,
    }
