"""One Logger, Tracer and Metrics per function, created here. Log profile ids, never addresses or names."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="closedloop")
tracer = Tracer(service="closedloop")
metrics = Metrics(namespace="closedloop", service="closedloop")


def observed(handler):
    """The decorator stack every handler wears, in one order: logging context, tracing (no responses: PII), metrics."""
    return logger.inject_lambda_context(clear_state=True)(
        tracer.capture_lambda_handler(capture_response=False)(metrics.log_metrics(handler))
    )
