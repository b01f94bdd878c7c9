"""The click path warm, against a bare handler making the same single AWS call (behind moto, and behind an endpoint
that answers at once); AWS requests per click and per mail.

The click's one call is SQS SendMessage: the click goes to the reactions queue, which stores it and settles it
after the bot-scoring window (closedloop.tracking). The floor sends a message of the same size to the same queue."""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from datetime import UTC, datetime

import boto3

from bench import imports
from bench.counting import counting
from bench.instant import InstantBackend
from bench.world import BASE_URL, context, embedded_aws, sqs_event
from closedloop import profiles as profile_rules
from closedloop import services
from closedloop.sending import SendRequest
from closedloop.values import CampaignRef
from closedloop_local import lambdas, outbox
from closedloop_local.client import BROWSER_UA
from infra import wiring

ROUNDS, PER_ROUND = 12, 25
INSTANT_ROUNDS, INSTANT_PER_ROUND = 20, 50  # a call takes a few ms here, not ~50: more samples cost little
WARM_CLICKS = 50
MAILS = 20
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _profile(profile_id: str) -> None:
    body = {"email": f"{profile_id}@example.net", "status": "subscribed", "attributes": {"first_name": "Ada"}}
    write = profile_rules.parse_profile_write(profile_id, body, NOW)
    profile_rules.upsert(services.profiles(), write, services.config(), NOW)


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


def _bare_handler(queue_url: str, endpoint_url: str | None = None):
    """The floor: a handler that makes the click's one AWS call (SQS SendMessage) with a raw boto3 client."""
    client = boto3.client("sqs", endpoint_url=endpoint_url)
    body = json.dumps({"step": "record", "activity": {"kind": "click", "activity_id": "x" * 32, "pad": "x" * 300}})

    def handler(event: dict, _context) -> dict:
        client.send_message(QueueUrl=queue_url, MessageBody=body)
        return {"statusCode": 302, "headers": {"Location": "https://travel.example.com/australia"}, "body": ""}

    return handler


def _click_event(token: str) -> dict:
    return {
        "version": "2.0",
        "routeKey": "GET /r/{token}",
        "rawPath": f"/r/{token}",
        "rawQueryString": "",
        "headers": {"user-agent": BROWSER_UA},
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


def _interleaved(click, bare, event, rounds: int, per_round: int) -> tuple[list[float], list[float]]:
    ours, floor = [], []
    for _ in range(rounds):  # interleaved rounds: noise hits both alike
        ours += [_timed(click, event, wiring.CLICK) for _ in range(per_round)]
        floor += [_timed(bare, event, wiring.CLICK) for _ in range(per_round)]
    return ours, floor


def _against_instant_backend(click, event, resources, clock) -> dict:
    """The warm click and the bare handler against an endpoint that answers at once (bench/instant.py).

    Against moto both sides spend ~50 ms inside moto; here what is left is the handler's own cost: Powertools'
    decorators, token check, pynamodb, botocore (serialise, sign, send, parse) and the loopback round trip. The
    click's collaborators are rebuilt against the backend, which passes its first click's secret and link-set reads
    on to moto; from then on every request it sees is counted, to show a warm click makes exactly one.
    """
    saved = os.environ["AWS_ENDPOINT_URL"]
    with InstantBackend(forward_to=resources.endpoint) as backend:
        os.environ["AWS_ENDPOINT_URL"] = backend.endpoint
        try:
            services.reset()
            services.use_clock(clock)
            with backend.counting() as first:
                click(event, context(wiring.CLICK))
            with backend.counting() as warm:
                for _ in range(WARM_CLICKS):
                    click(event, context(wiring.CLICK))
            bare = _bare_handler(resources.queues[wiring.REACTIONS_QUEUE.id].url, backend.endpoint)
            with backend.counting() as bare_calls:
                for _ in range(WARM_CLICKS):
                    bare(event, context(wiring.CLICK))
            with backend.counting() as timed:
                ours, floor = _interleaved(click, bare, event, INSTANT_ROUNDS, INSTANT_PER_ROUND)
        finally:
            os.environ["AWS_ENDPOINT_URL"] = saved
            services.reset()
            services.use_clock(clock)
    timed_calls = 2 * INSTANT_ROUNDS * INSTANT_PER_ROUND
    return {
        "warm_click_median_ms": round(statistics.median(ours) * 1000, 3),
        "bare_handler_median_ms": round(statistics.median(floor) * 1000, 3),
        "warm_click_ratio": round(statistics.median(ours) / statistics.median(floor), 3),
        "samples_each": len(ours),
        "endpoint_requests_first_click": dict(first),
        "endpoint_requests_per_warm_click": {k: round(v / WARM_CLICKS, 2) for k, v in warm.items()},
        "endpoint_requests_per_warm_click_total": round(sum(warm.values()) / WARM_CLICKS, 2),
        "endpoint_requests_per_bare_call": {k: round(v / WARM_CLICKS, 2) for k, v in bare_calls.items()},
        # Both handlers while timed: one SendMessage each per call, nothing passed on to moto.
        "endpoint_requests_per_timed_call": {k: round(v / timed_calls, 2) for k, v in timed.items()},
    }


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
            for _ in range(WARM_CLICKS):
                click(event, context(wiring.CLICK))

        bare = _bare_handler(resources.queues[wiring.REACTIONS_QUEUE.id].url)
        ours, floor = _interleaved(click, bare, event, ROUNDS, PER_ROUND)

        profiles = [f"p-mail-{n}" for n in range(MAILS)]
        for profile_id in profiles:
            _profile(profile_id)
        _send(sender, [SendRequest(send_key="bench#warmup", profile_id=profiles[0], template="newsletter-demo")])
        with counting() as (mail_requests, _):
            _send(
                sender,
                [SendRequest(send_key=f"bench#mail#{p}", profile_id=p, template="newsletter-demo") for p in profiles],
            )

        # The same mails as a campaign's (closedloop.campaign_stats: `sent` rides mark_sent's transaction).
        campaign = CampaignRef("bench", "main", "a")
        with counting() as (campaign_requests, _):
            _send(
                sender,
                [
                    SendRequest(
                        send_key=f"campaign#bench#main#{p}", profile_id=p, template="newsletter-demo", campaign=campaign
                    )
                    for p in profiles
                ],
            )

        instant = _against_instant_backend(click, event, resources, _clock)

    return {
        "first_click_modules": modules,
        "warm_click_median_ms": round(statistics.median(ours) * 1000, 3),
        "bare_handler_median_ms": round(statistics.median(floor) * 1000, 3),
        "warm_click_ratio": round(statistics.median(ours) / statistics.median(floor), 3),
        "aws_requests_per_warm_click": round(sum(warm_requests.values()) / WARM_CLICKS, 2),
        "aws_requests_first_click_in_container": sum(cold_requests.values()),
        "first_click_requests": dict(cold_requests),
        "warm_click_requests": {k: round(v / WARM_CLICKS, 2) for k, v in warm_requests.items()},
        "aws_requests_per_sent_mail": round(sum(mail_requests.values()) / MAILS, 2),
        "sent_mail_requests": {k: round(v / MAILS, 2) for k, v in mail_requests.items()},
        "aws_requests_per_sent_campaign_mail": round(sum(campaign_requests.values()) / MAILS, 2),
        "sent_campaign_mail_requests": {k: round(v / MAILS, 2) for k, v in campaign_requests.items()},
        "instant_backend": instant,
    }
