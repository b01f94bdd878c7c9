"""Integration tests: the real handlers against moto, with every resource created from infra/wiring.py by the same
code the local runtime uses. Handlers are called as functions (moto cannot run Lambda code)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import urllib.parse
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from closedloop import services
from closedloop.clock import FixedClock
from closedloop_local import aws, lambdas, outbox, sqs_clock
from closedloop_local.client import BROWSER_UA
from closedloop_local.streams import StreamReader
from infra import wiring

REPO = Path(__file__).resolve().parents[2]
CONTENT = REPO / "tests" / "fixtures" / "content"  # the tests own their config and templates
BASE_URL = "https://links.example.test"
API_KEY = "integration-key"


@pytest.fixture(scope="session")
def moto_endpoint():
    saved = dict(os.environ)
    server, endpoint = aws.start_moto()
    for name, value in aws.aws_environment(endpoint).items():
        os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    resources = aws.create_resources(endpoint, api_key=API_KEY)
    os.environ.update(resources.function_environment(base_url=BASE_URL, content_dir=str(CONTENT)))
    os.environ["POWERTOOLS_TRACE_DISABLED"] = "true"
    os.environ["POWERTOOLS_METRICS_NAMESPACE"] = "closedloop"
    outbox.capture_tags()
    # SQS delays follow the test's clock, as they follow the local runtime's (a click's settle step).
    undo = sqs_clock.follow(_ServicesClock())
    yield resources
    undo()
    server.stop()
    os.environ.clear()
    os.environ.update(saved)


class _ServicesClock:
    """Whatever clock the domain is using at the moment (each test installs its own)."""

    def now(self) -> datetime:
        return services.clock().now()


@pytest.fixture(scope="session")
def profile_stream(moto_endpoint):
    reader = StreamReader(wiring.THRESHOLD_CROSSINGS.stream_trigger, aws.REGION)
    reader.start()
    return reader


@pytest.fixture
def clock(moto_endpoint):
    services.reset()
    fixed = FixedClock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    services.use_clock(fixed)
    yield fixed
    services.reset()


@pytest.fixture
def resources(moto_endpoint, clock, profile_stream):
    profile_stream.poll()  # start each test with the stream read to its end
    return moto_endpoint


_ids = itertools.count()


@pytest.fixture
def profile_id():
    """A fresh profile id per test: tests share one moto and never see each other's data."""
    return f"p-{uuid.uuid4().hex[:10]}"


def invoke(function: wiring.Function, event):
    return lambdas.call(function, event)


def http_event(
    method: str,
    path: str,
    *,
    route: str,
    params: dict | None = None,
    body: object = None,
    headers: dict | None = None,
    raw_body: str | None = None,
    raw_bytes: bytes | None = None,
    query: str = "",
) -> dict:
    text = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
    if raw_bytes is not None:  # as API Gateway passes a body that is not text: base64
        text = base64.b64encode(raw_bytes).decode()
    return {
        "version": "2.0",
        "routeKey": f"{method} {route}",
        "rawPath": path,
        "rawQueryString": query,
        **({"queryStringParameters": dict(urllib.parse.parse_qsl(query))} if query else {}),
        "headers": {"content-type": "application/json", **(headers or {})},
        "pathParameters": params or {},
        "requestContext": {
            "accountId": aws.ACCOUNT_ID,
            "apiId": "local",
            "domainName": "localhost",
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} {route}",
            "stage": "$default",
            "time": "01/Mar/2026:12:00:00 +0000",
            "timeEpoch": 0,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "pytest",
            },
        },
        "body": text,
        "isBase64Encoded": raw_bytes is not None,
    }


def admin(
    method: str,
    path: str,
    body: object = None,
    *,
    key: str | None = API_KEY,
    raw_body: str | None = None,
    raw_bytes: bytes | None = None,
):
    """Call the admin API function; returns (status, json body). `path` may carry a query string."""
    path, _, query = path.partition("?")
    route = next(r.path for r in wiring.ADMIN.routes if r.method == method and _matches(r.path, path))
    params = _params(route, path)
    headers = {"authorization": f"Bearer {key}"} if key is not None else {}
    event = http_event(
        method,
        path,
        route=route,
        params=params,
        body=body,
        headers=headers,
        raw_body=raw_body,
        raw_bytes=raw_bytes,
        query=query,
    )
    response = invoke(wiring.ADMIN, event)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def _matches(template: str, path: str) -> bool:
    return re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path) is not None


def _params(template: str, path: str) -> dict:
    names = re.findall(r"\{([^}]+)\}", template)
    values = re.fullmatch(re.sub(r"\{[^}]+\}", "([^/]+)", template), path).groups()
    return dict(zip(names, values, strict=True))


def tracking(
    function: wiring.Function, method: str, token: str, form: str | None = None, user_agent: str = BROWSER_UA
) -> dict:
    """A request on a public route, from a browser unless told otherwise."""
    route = next(r.path for r in function.routes if r.method == method)
    path = route.replace("{token}", token)
    headers = {"user-agent": user_agent}
    if form is not None:
        headers["content-type"] = "application/x-www-form-urlencoded"
    return invoke(
        function, http_event(method, path, route=route, params={"token": token}, headers=headers, raw_body=form)
    )


def put_profile(profile_id: str, **attributes) -> dict:
    """A subscribed profile with first name Ada (and these attributes)."""
    status, body = admin(
        "PUT",
        f"/v1/profiles/{profile_id}",
        {
            "email": f"{profile_id}@example.net",
            "status": "subscribed",
            "attributes": {"first_name": "Ada", **attributes},
        },
    )
    assert status in (200, 201), body
    return body


def queue_messages(queue: wiring.Queue, resources) -> list[dict]:
    """Receive (and delete) everything waiting in a queue, as Lambda SQS records."""
    sqs = boto3.client("sqs")
    url = resources.queues[queue.id].url
    records = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not got:
            return records
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            records.append(
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": message.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": resources.queues[queue.id].arn,
                    "awsRegion": aws.REGION,
                }
            )


def tap_events(resources, function: wiring.Function | None = None) -> list[dict]:
    """EventBridge events that reached the rule taps (what the rule's target function would receive); only those
    of `function`'s rule when given (the others stay)."""
    sqs = boto3.client("sqs")
    events = []
    for tap in resources.taps:
        if function is not None and tap.function != function:
            continue
        while got := sqs.receive_message(QueueUrl=tap.queue.url, MaxNumberOfMessages=10).get("Messages", []):
            for message in got:
                sqs.delete_message(QueueUrl=tap.queue.url, ReceiptHandle=message["ReceiptHandle"])
                events.append(json.loads(message["Body"]))
    return events


def mails_to(profile_id: str) -> list[dict]:
    return outbox.messages(to=f"{profile_id}@example.net")


def tracked_links(mail: dict) -> list[str]:
    return re.findall(rf"{re.escape(BASE_URL)}/r/([A-Za-z0-9._:-]+)", mail["text"])


def deliver_profile_changes(reader: StreamReader) -> dict:
    """Hand the profiles stream's new records to the thresholds function, as its event source mapping would."""
    records = reader.poll()
    return invoke(wiring.THRESHOLD_CROSSINGS, {"Records": records}) if records else {"batchItemFailures": []}


def deliver_clicks(resources, clock: FixedClock) -> list[dict]:
    """What the reactions queue does with the clicks in it: store them, then, once the clock has moved past the
    settle window, settle them. The reactions function's answers, one per delivery."""
    answers = []
    settle = services.config().bots.settle_seconds
    for advance in (0, settle + 1):
        clock.advance(seconds=advance)
        records = queue_messages(wiring.REACTIONS_QUEUE, resources)
        if records:
            answers.append(invoke(wiring.REACTIONS, {"Records": records}))
    return answers


def drain_sends(resources) -> dict:
    """Deliver everything in the send queue to the sender, as the event source mapping would."""
    records = queue_messages(wiring.SEND_QUEUE, resources)
    if not records:
        return {"batchItemFailures": []}
    return invoke(wiring.SENDER, {"Records": records})
