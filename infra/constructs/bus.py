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
    """A custom bus; `route` adds one rule per wiring.RuleTrigger, on this bus or the account's default bus."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.bus = events.EventBus(self, "Bus", description="closedloop domain events")
        # Events that could not be delivered, or whose handler failed every asynchronous retry.
        self.dead_letters = dead_letter_queue(self, "dlq")

    def route(self, spec: wiring.Function, function: lambda_.Function) -> events.Rule:
        """Deliver the function's rule trigger (its source's detail types, on its bus) to the function."""
        trigger = spec.rule_trigger
        rule = events.Rule(
            self,
            trigger.id,
            # No bus: the account's default bus, where SES publishes configuration-set events.
            event_bus=self.bus if trigger.bus == wiring.CLOSEDLOOP_BUS else None,
            description=f"{', '.join(trigger.detail_types)} -> {spec.name}",
            event_pattern=events.EventPattern(
                source=[trigger.source], detail_type=list(trigger.detail_types), detail=trigger.detail
            ),
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
