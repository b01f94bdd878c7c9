"""A fresh embedded AWS (moto) with every wiring resource, and the process environment the handlers read."""

from __future__ import annotations

import os
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from closedloop import services
from closedloop.clock import FixedClock
from closedloop_local import aws, lambdas, outbox
from infra import wiring

REPO = Path(__file__).resolve().parent.parent
BASE_URL = "https://links.example.test"


@contextmanager
def embedded_aws(now):
    saved = dict(os.environ)
    server, endpoint = aws.start_moto()
    # moto keeps its state per process, not per server: start from nothing.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    try:
        for name, value in aws.aws_environment(endpoint).items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        resources = aws.create_resources(endpoint)
        os.environ.update(resources.function_environment(base_url=BASE_URL, content_dir=str(REPO)))
        os.environ.update(
            POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_NAMESPACE="closedloop", POWERTOOLS_LOG_LEVEL="WARNING"
        )
        services.reset()
        clock = FixedClock(now)
        services.use_clock(clock)
        outbox.capture_tags()
        yield resources, clock
    finally:
        services.reset()
        server.stop()
        os.environ.clear()
        os.environ.update(saved)


def context(function: wiring.Function) -> lambdas.LambdaContext:
    return lambdas.LambdaContext(
        function_name=function.name, memory_limit_in_mb=function.memory_mb, timeout_s=function.timeout_s
    )


def sqs_event(bodies: list[str]) -> dict:
    return {
        "Records": [
            {
                "messageId": str(n),
                "receiptHandle": "r",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:send",
                "awsRegion": "us-east-1",
            }
            for n, body in enumerate(bodies)
        ]
    }
