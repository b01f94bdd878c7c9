"""Alarms a person should hear about: anything parked in a dead-letter queue, any function error."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

PERIOD = Duration.minutes(5)


class Monitoring(Construct):
    """One alarm per DLQ (a message is visible) and per function (an error); a dashboard of both."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        dead_letter_queues: Mapping[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, id)
        self.alarms: list[cloudwatch.Alarm] = []
        for name, queue in dead_letter_queues.items():
            self.alarms.append(
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum").create_alarm(
                    self,
                    f"dlq-{name}",
                    alarm_description=f"Messages are waiting in the {name} dead-letter queue: inspect and redrive.",
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        for name, function in functions.items():
            self.alarms.append(
                function.metric_errors(period=PERIOD, statistic="Sum").create_alarm(
                    self,
                    f"errors-{name}",
                    alarm_description=f"The {name} function failed; see its log group.",
                    threshold=1,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
            )
        dashboard = cloudwatch.Dashboard(self, "Dashboard")
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="closedloop alarms", alarms=self.alarms, width=24))
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations", left=[f.metric_invocations(period=PERIOD) for f in functions.values()], width=12
            ),
            cloudwatch.GraphWidget(
                title="Duration p95",
                left=[f.metric_duration(period=PERIOD, statistic="p95") for f in functions.values()],
                width=12,
            ),
        )
