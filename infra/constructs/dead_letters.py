"""Dead-letter queues: one shape for every DLQ in the stack (queues, bus rules, schedules, async invokes)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import acknowledge

# Longest SQS retention: time for a person to notice the alarm and redrive.
RETENTION = Duration.days(14)


def dead_letter_queue(scope: Construct, id: str) -> sqs.Queue:
    """An encrypted, TLS-only queue that parks what could not be processed."""
    queue = sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=RETENTION,
    )
    acknowledge(
        queue,
        "AwsSolutions-SQS3",
        "This queue is itself a dead-letter queue; a DLQ of a DLQ would only move the problem. "
        "Its depth is alarmed on (monitoring construct).",
    )
    return queue


def park_async_failures(function: lambda_.Function, queue: sqs.IQueue, *, max_event_age: Duration) -> None:
    """Send events whose asynchronous invocation failed every retry to `queue` instead of dropping them.

    A function has one async-invoke configuration; when it has several asynchronous triggers the first wins.
    """
    if function.node.try_find_child("EventInvokeConfig") is None:
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(queue), retry_attempts=2, max_event_age=max_event_age
        )
