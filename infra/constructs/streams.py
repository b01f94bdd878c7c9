"""DynamoDB stream consumers (the thresholds function reads the profiles stream), with a DLQ for spent batches."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from constructs import Construct

from infra import wiring
from infra.constructs.dead_letters import dead_letter_queue

# Stream records live 24 hours; retrying past that only races the trim.
MAX_RECORD_AGE = Duration.hours(24)


class Streams(Construct):
    """One event source mapping per wiring.StreamTrigger; records that fail every retry are parked in `dead_letters`."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        # Holds the failed batch's stream coordinates (shard, sequence numbers), not the records themselves.
        self.dead_letters = dead_letter_queue(self, "dlq")

    def add(self, spec: wiring.Function, function: lambda_.Function, table: dynamodb.ITable) -> None:
        trigger = spec.stream_trigger
        function.add_event_source(
            event_sources.DynamoEventSource(
                table,
                # From the oldest record still in the stream: nothing written before the mapping existed is skipped.
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=trigger.batch_size,
                retry_attempts=trigger.max_retries,
                max_record_age=MAX_RECORD_AGE,
                # One poller per shard keeps each item's records in order; a failing record is isolated by bisecting.
                parallelization_factor=1,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                on_failure=event_sources.SqsDlq(self.dead_letters),
            )
        )
