"""The click path warm, against a bare handler making the same single AWS call; AWS requests per click and per mail."""

from __future__ import annotations

import re
import statistics
import time
import uuid
from datetime import UTC, datetime

import boto3

from bench import imports
from bench.counting import counting
from bench.world import BASE_URL, context, embedded_aws, sqs_event
from closedloop import admin, services
from closedloop.sending import SendRequest
from closedloop_local import lambdas, outbox
from infra import wiring

ROUNDS, PER_ROUND = 12, 25
MAILS = 20
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _profile(profile_id: str) -> None:
    admin.upsert_profile(
        profile_id,
        {"email": f"{profile_id}@example.net", "attributes": {"first_name": "Ada"}},
        services.profiles(),
        services.config(),
        NOW,
    )


def _send(handler, requests: list[SendRequest]) -> None:
    for start in range(0, len(requests), 10):
        handler(sqs_event([r.to_json() for r in requests[start : start + 10]]), context(wiring.SENDER))


def _newsletter_token(sender, profile_id: str) -> str:
    _profile(profile_id)
    _send(
        sender,
        [SendRequest(send_key=f"bench#newsletter#{profile_id}", profile_id=profile_id, template="newsletter-demo")],
    )
    (mail,) = outbox.messages(to=f"{profile_id}@example.net")
    return re.search(rf"{re.escape(BASE_URL)}/r/(\S+)", mail["text"]).group(1)


def _bare_handler(table_activity: str, table_profiles: str):
    """The floor: a handler that makes the click's one DynamoDB call with a raw boto3 client and answers."""
    client = boto3.client("dynamodb")

    def handler(event: dict, _context) -> dict:
        click_id = uuid.uuid4().hex
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table_activity,
                        "Item": {
                            "profile_id": {"S": "p-bench"},
                            "sk": {"S": f"click#{click_id}"},
                            "occurred_at": {"S": "2026-06-01T12:00:00Z"},
                            "kind": {"S": "click"},
                        },
                        "ConditionExpression": "attribute_not_exists(sk)",
                    }
                },
                {
                    "Update": {
                        "TableName": table_profiles,
                        "Key": {"profile_id": {"S": "p-bench"}},
                        "UpdateExpression": "ADD interests.travel :one SET last_activity_at = :t",
                        "ConditionExpression": "attribute_exists(profile_id)",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":t": {"S": "2026-06-01T12:00:00Z"}},
                    }
                },
            ]
        )
        return {"statusCode": 302, "headers": {"Location": "https://travel.example.com/australia"}, "body": ""}

    return handler


def _click_event(token: str) -> dict:
    return {
        "version": "2.0",
        "routeKey": "GET /r/{token}",
        "rawPath": f"/r/{token}",
        "rawQueryString": "",
        "headers": {},
        "pathParameters": {"token": token},
        "requestContext": {
            "http": {"method": "GET", "path": f"/r/{token}", "sourceIp": "127.0.0.1"},
            "requestId": "bench",
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def _timed(handler, event, function) -> float:
    started = time.perf_counter()
    handler(event, context(function))
    return time.perf_counter() - started


def measure() -> dict:
    with embedded_aws(NOW) as (resources, _clock):
        sender = lambdas.load_handler(wiring.SENDER)
        click = lambdas.load_handler(wiring.CLICK)
        event, recording = (_click_event(_newsletter_token(sender, profile_id)) for profile_id in ("p-bench", "p-rec"))
        # A clean interpreter clicks once (on its own profile: it runs on the real clock, this process on a fixed one).
        modules = imports.first_click_modules(recording)

        services.reset()
        services.use_clock(_clock)
        with counting() as (cold_requests, _):
            click(event, context(wiring.CLICK))
        with counting() as (warm_requests, _):
            for _ in range(50):
                click(event, context(wiring.CLICK))

        bare = _bare_handler(resources.tables["activity"], resources.tables["profiles"])
        ours, floor = [], []
        for _ in range(ROUNDS):  # interleaved rounds: noise hits both alike
            ours += [_timed(click, event, wiring.CLICK) for _ in range(PER_ROUND)]
            floor += [_timed(bare, event, wiring.CLICK) for _ in range(PER_ROUND)]

        profiles = [f"p-mail-{n}" for n in range(MAILS)]
        for profile_id in profiles:
            _profile(profile_id)
        _send(sender, [SendRequest(send_key="bench#warmup", profile_id=profiles[0], template="newsletter-demo")])
        with counting() as (mail_requests, _):
            _send(
                sender,
                [SendRequest(send_key=f"bench#mail#{p}", profile_id=p, template="newsletter-demo") for p in profiles],
            )

    return {
        "first_click_modules": modules,
        "warm_click_median_ms": round(statistics.median(ours) * 1000, 3),
        "bare_handler_median_ms": round(statistics.median(floor) * 1000, 3),
        "warm_click_ratio": round(statistics.median(ours) / statistics.median(floor), 3),
        "aws_requests_per_warm_click": round(sum(warm_requests.values()) / 50, 2),
        "aws_requests_first_click_in_container": sum(cold_requests.values()),
        "first_click_requests": dict(cold_requests),
        "warm_click_requests": {k: round(v / 50, 2) for k, v in warm_requests.items()},
        "aws_requests_per_sent_mail": round(sum(mail_requests.values()) / MAILS, 2),
        "sent_mail_requests": {k: round(v / MAILS, 2) for k, v in mail_requests.items()},
    }
