"""Alarms a person should hear about, sent to the alarm topic, and the dashboard (technical and business)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import metrics

PERIOD = Duration.minutes(5)


def business_metric(name: str) -> cloudwatch.Metric:
    """One of infra/metrics.py's counts as the handlers emit it (EMF), summed per period."""
    return cloudwatch.Metric(
        namespace=metrics.NAMESPACE,
        metric_name=name,
        dimensions_map=metrics.DIMENSIONS,
        statistic="Sum",
        period=PERIOD,
    )


class Monitoring(Construct):
    """An alarm per DLQ (a message is visible), per function (an error) and per business alarm of infra/metrics.py.

    Every alarm notifies `alarm_topic` when it fires, and most also when it clears (see `notify_ok`).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        functions: Mapping[str, lambda_.Function],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        alarm_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id)
        self._action = cloudwatch_actions.SnsAction(alarm_topic)
        self.alarms = [
            self._alarm_on_any(
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                id=f"dlq-{name}",
                description=f"Messages are waiting in the {name} dead-letter queue: inspect and redrive.",
            )
            for name, queue in dead_letter_queues.items()
        ]
        self.alarms += [
            self._alarm_on_any(
                function.metric_errors(period=PERIOD, statistic="Sum"),
                id=f"errors-{name}",
                description=f"The {name} function failed; see its log group.",
            )
            for name, function in functions.items()
        ]
        self.alarms += [
            self._alarm_on_any(
                business_metric(alarm.metric),
                id=alarm.id,
                description=alarm.description,
                notify_ok=alarm.notify_ok,
            )
            for alarm in metrics.BUSINESS_ALARMS
        ]

        self.reputation_alarms = [self._reputation_alarm(alarm) for alarm in metrics.REPUTATION_ALARMS]
        self.alarms += self.reputation_alarms

        self.dashboard = cloudwatch.Dashboard(self, "Dashboard")
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="closedloop alarms", alarms=self.alarms, width=24)
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations", left=[f.metric_invocations(period=PERIOD) for f in functions.values()], width=12
            ),
            cloudwatch.GraphWidget(
                title="Duration p95",
                left=[f.metric_duration(period=PERIOD, statistic="p95") for f in functions.values()],
                width=12,
            ),
        )
        # The business graphs under the technical ones, wrapping into rows.
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=graph.title, left=[business_metric(name) for name in graph.metrics], width=graph.width
                )
                for graph in metrics.BUSINESS_GRAPHS
            )
        )

    def _reputation_alarm(self, alarm: metrics.ReputationAlarm) -> cloudwatch.Alarm:
        """SES's rate at or above the threshold in a period; no data (nothing sent) is fine. Pausing is not an
        alarm action: the alarm's state change reaches functions/reputation_alarm on the default bus."""
        metric = cloudwatch.Metric(
            namespace=metrics.SES_NAMESPACE, metric_name=alarm.metric, statistic="Maximum", period=PERIOD
        )
        created = metric.create_alarm(
            self,
            alarm.id,
            alarm_description=alarm.description,
            threshold=alarm.threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        created.add_alarm_action(self._action)
        created.add_ok_action(self._action)
        return created

    def _alarm_on_any(
        self, metric: cloudwatch.IMetric, *, id: str, description: str, notify_ok: bool = True
    ) -> cloudwatch.Alarm:
        """Alarm as soon as the metric reaches 1 in one period (a dead letter, an error, a loss); no data is fine."""
        alarm = metric.create_alarm(
            self,
            id,
            alarm_description=description,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        if notify_ok:
            alarm.add_ok_action(self._action)
        return alarm
