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
        self.alarms = [
            self._alarm_on_any(
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                f"dlq-{name}",
                f"Messages are waiting in the {name} dead-letter queue: inspect and redrive.",
            )
            for name, queue in dead_letter_queues.items()
        ] + [
            self._alarm_on_any(
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"errors-{name}",
                f"The {name} function failed; see its log group.",
            )
            for name, function in functions.items()
        ]
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

    def _alarm_on_any(self, metric: cloudwatch.Metric, id: str, description: str) -> cloudwatch.Alarm:
        """Alarm as soon as the metric reaches 1 in one period (a dead letter, an error); no data is fine."""
        return metric.create_alarm(
            self,
            id,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
