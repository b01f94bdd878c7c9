"""EventBridge Scheduler schedules for the functions that run on a clock (birthday, we-miss-you, ...)."""

from __future__ import annotations

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from constructs import Construct

from infra import wiring
from infra.constructs.dead_letters import dead_letter_queue, park_async_failures
from infra.constructs.nag import acknowledge, arn_placeholder

RETRY_ATTEMPTS = 3
# A tick older than this is superseded by the next one (the hourly checks catch up by themselves).
MAX_EVENT_AGE = Duration.hours(1)


class Scheduling(Construct):
    """One schedule per wiring.ScheduleTrigger; the handler receives {"schedule": name}."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self.dead_letters = dead_letter_queue(self, "dlq")

    def add(self, spec: wiring.Function, function: lambda_.Function) -> scheduler.Schedule:
        """Invoke the function on its schedule, in its time zone."""
        trigger = spec.schedule
        # Its own role per schedule (not the stack-wide one CDK would share), so the grant below is this pair only.
        role = iam.Role(
            self,
            f"{trigger.name}-role",
            description=f"EventBridge Scheduler: invoke {spec.name} for the {trigger.name} schedule",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
        )
        schedule = scheduler.Schedule(
            self,
            trigger.name,
            description=f"{trigger.name}: {trigger.expression} ({trigger.timezone})",
            schedule=scheduler.ScheduleExpression.expression(trigger.expression, TimeZone.of(trigger.timezone)),
            time_window=scheduler.TimeWindow.off(),
            target=scheduler_targets.LambdaInvoke(
                function,
                input=scheduler.ScheduleTargetInput.from_object({"schedule": trigger.name}),
                dead_letter_queue=self.dead_letters,
                retry_attempts=RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
                role=role,
            ),
        )
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            f"AwsSolutions-IAM5[Resource::{arn_placeholder(function)}:*]",
            "lambda:InvokeFunction on this one function and its versions (ARN:*), the shape of CDK's grantInvoke; "
            "no other function.",
        )
        park_async_failures(function, self.dead_letters, max_event_age=MAX_EVENT_AGE)
        return schedule
