"""The closedloop event bus and the rules that deliver domain events to their handlers."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra import wiring
from infra.constructs.dead_letters import dead_letter_queue, park_async_failures

RETRY_ATTEMPTS = 4
MAX_EVENT_AGE = Duration.hours(6)


class Bus(Construct):
    """A custom bus; `route` adds one rule per wiring.RuleTrigger."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.bus = events.EventBus(self, "Bus", description="closedloop domain events")
        # Events that could not be delivered, or whose handler failed every asynchronous retry.
        self.dead_letters = dead_letter_queue(self, "dlq")

    def route(self, spec: wiring.Function, function: lambda_.Function) -> events.Rule:
        """Deliver the function's rule trigger (detail types from the closedloop source) to the function."""
        trigger = spec.rule_trigger
        rule = events.Rule(
            self,
            trigger.id,
            event_bus=self.bus,
            description=f"{', '.join(trigger.detail_types)} -> {spec.name}",
            event_pattern=events.EventPattern(source=[wiring.EVENT_SOURCE], detail_type=list(trigger.detail_types)),
        )
        rule.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=self.dead_letters,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
            )
        )
        park_async_failures(function, self.dead_letters, max_event_age=MAX_EVENT_AGE)
        return rule
