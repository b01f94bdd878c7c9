"""The sending side: the work queues (each with its DLQ) and SES (configuration set, identity, send permission)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import wiring
from infra.constructs.dead_letters import dead_letter_queue

# SES feedback worth acting on (suppression, stats); sent to the default bus, the only one SES can target.
FEEDBACK_EVENTS = (
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.DELIVERY_DELAY,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.RENDERING_FAILURE,
)


class Sending(Construct):
    """Queues keyed by wiring id; SES configuration set and the identities mail is sent from."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        sender_address: str,
        configuration_set_name: str,
        sender_domain: str | None = None,
        queues: Sequence[wiring.Queue] = wiring.QUEUES,
    ) -> None:
        super().__init__(scope, id)
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        self.queues: dict[str, sqs.Queue] = {queue.id: self._queue(queue) for queue in queues}

        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=configuration_set_name,
            reputation_metrics=True,
            sending_enabled=True,
            suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
        )
        ses.ConfigurationSetEventDestination(
            self,
            "Feedback",
            configuration_set=self.configuration_set,
            destination=ses.EventDestination.event_bus(
                events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
            ),
            events=list(FEEDBACK_EVENTS),
        )
        domain = sender_domain or sender_address.rpartition("@")[2]
        self.identity: ses.EmailIdentity | None = None
        if sender_domain:
            # Easy DKIM: the deployer publishes the three CNAME records CloudFormation reports.
            self.identity = ses.EmailIdentity(
                self, "Identity", identity=ses.Identity.domain(sender_domain), configuration_set=self.configuration_set
            )
        # SES authorizes a send against the verified identity: the address itself or its domain (never the display
        # name, which is only part of the From header).
        stack = Stack.of(self)
        self.identity_arns = [
            stack.format_arn(service="ses", resource="identity", resource_name=name)
            for name in (sender_address, domain)
        ]
        self.configuration_set_arn = stack.format_arn(
            service="ses", resource="configuration-set", resource_name=self.configuration_set.configuration_set_name
        )

    def _queue(self, spec: wiring.Queue) -> sqs.Queue:
        dead_letters = dead_letter_queue(self, f"{spec.id}-dlq")
        self.dead_letter_queues[spec.id] = dead_letters
        consumer = wiring.consumer_of(spec)
        return sqs.Queue(
            self,
            spec.id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(wiring.VISIBILITY_TIMEOUT_FACTOR * consumer.timeout_s),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=spec.max_receive_count),
        )

    def consume(self, spec: wiring.Function, function: lambda_.Function) -> None:
        """Drain the function's queue in batches, bounded in concurrency, retrying only the failed messages."""
        trigger = spec.queue_trigger
        function.add_event_source(
            event_sources.SqsEventSource(
                self.queues[trigger.queue.id],
                batch_size=trigger.batch_size,
                max_concurrency=trigger.max_concurrency,
                report_batch_item_failures=True,
            )
        )

    def grant_send_email(self, grantee: iam.IGrantable) -> iam.Grant:
        """ses:SendEmail / SendRawEmail from the sender identity through the configuration set, nothing else."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["ses:SendEmail", "ses:SendRawEmail"],
            resource_arns=[*self.identity_arns, self.configuration_set_arn],
        )

    def grant_read_send_quota(self, grantee: iam.IGrantable) -> iam.Grant:
        """ses:GetAccount (the account's maximum send rate): it has no resource-level permissions (Resource *)."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=["ses:GetAccount"], resource_arns=["*"])
