"""One Logger, Tracer and Metrics per function, created here. Log profile ids, never addresses or names."""

from __future__ import annotations

import warnings
from functools import lru_cache

from aws_lambda_powertools import Logger, Metrics

# Not every invocation has a metric to report (an idle schedule, an admin read); Powertools would warn on each one.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger(service="closedloop")
metrics = Metrics(namespace="closedloop", service="closedloop")


@lru_cache(maxsize=1)
def tracer():
    """Created on first use: importing the X-Ray SDK costs ~0.3 s of cold start, more than boto3 itself."""
    from aws_lambda_powertools import Tracer

    return Tracer(service="closedloop")


def observed(handler=None, *, traced: bool = True):
    """The decorator stack every handler wears, in one order: logging context, tracing (no responses: PII), metrics.

    The public tracking handlers pass traced=False: Lambda's active tracing still records each invocation, and
    the recipient's redirect does not wait for the X-Ray SDK to load.
    """

    def wrap(function):
        inner = metrics.log_metrics(function)
        if traced:
            inner = tracer().capture_lambda_handler(capture_response=False)(inner)
        return logger.inject_lambda_context(clear_state=True)(inner)

    return wrap(handler) if handler else wrap
