"""The closedloop stack: composes the constructs, then turns each wiring.Function into grants and triggers.

Nothing here declares a resource of its own accord: tables, queues, secrets, APIs, rules, schedules and functions
all come from infra/wiring.py, the declaration the local runtime reads too.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import getaddresses, parseaddr
from pathlib import Path

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from closedloop.validation import has_line_break, is_email
from infra import layers as layer_builds
from infra import wiring
from infra.constructs.alarm_topic import AlarmTopic
from infra.constructs.buckets import Buckets
from infra.constructs.bus import Bus
from infra.constructs.data import Data
from infra.constructs.functions import CONTENT_DIR, Functions, Layers
from infra.constructs.http_api import HttpApi
from infra.constructs.monitoring import Monitoring
from infra.constructs.nag import acknowledge, arn_placeholder
from infra.constructs.one_time_schedules import OneTimeScheduleGroups
from infra.constructs.scheduling import Scheduling
from infra.constructs.sending import Sending
from infra.constructs.streams import Streams

CONTEXT_PREFIX = "closedloop:"


@dataclass(frozen=True)
class DeploySettings:
    """What a deployer chooses, read from cdk.json context (keys prefixed "closedloop:")."""

    # The From of every mail: a bare address or one with a display name, `closedloop <newsletter@example.com>`.
    sender: str = "newsletter@example.com"
    sender_domain: str | None = None
    configuration_set: str = "closedloop"
    tracking_domain: str | None = None
    tracking_certificate_arn: str | None = None

    @classmethod
    def from_context(cls, scope: Construct) -> DeploySettings:
        def get(key: str) -> str | None:
            value = scope.node.try_get_context(CONTEXT_PREFIX + key)
            return str(value).strip() or None if value is not None else None

        settings = cls(
            sender=get("sender") or cls.sender,
            sender_domain=get("senderDomain"),
            configuration_set=get("configurationSet") or cls.configuration_set,
            tracking_domain=get("trackingDomain"),
            tracking_certificate_arn=get("trackingCertificateArn"),
        )
        settings.validate()
        return settings

    @property
    def sender_address(self) -> str:
        """The address part of the sender: what SES verifies and authorizes."""
        return parseaddr(self.sender)[1]

    def validate(self) -> None:
        refused = f"context {CONTEXT_PREFIX}sender must be an address, optionally with a display name"
        # Any character str.splitlines() splits on would break the From header apart (the email package's rule).
        if has_line_break(self.sender):
            raise ValueError(f"{refused}, on one line; got {self.sender!r}")
        address = self.sender_address
        # parseaddr is lenient: it drops a second address or trailing text (getaddresses sees them) and accepts
        # an unclosed bracket; the sender must be exactly the address or end with "<address>".
        one_address = len(getaddresses([self.sender])) == 1
        well_formed = self.sender == address or self.sender.endswith(f"<{address}>")
        if not (one_address and well_formed and is_email(address)):
            raise ValueError(f'{refused}, like "closedloop <newsletter@example.com>"; got {self.sender!r}')
        domain = self.sender_domain
        if domain and address.rpartition("@")[2].lower() != domain.lower():
            raise ValueError(
                f"{CONTEXT_PREFIX}sender {address!r} is not an address of {CONTEXT_PREFIX}senderDomain {domain!r}"
            )


class ClosedloopStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        settings: DeploySettings | None = None,
        content_root: Path = layer_builds.ROOT,
        **kwargs,
    ) -> None:
        """`content_root` holds the templates/ and config/ the content layer ships (tests point it at a copy)."""
        super().__init__(scope, id, **kwargs)
        settings = settings or DeploySettings.from_context(self)

        data = Data(self, "Data")
        sending = Sending(
            self,
            "Sending",
            sender_address=settings.sender_address,
            sender_domain=settings.sender_domain,
            configuration_set_name=settings.configuration_set,
        )
        bus = Bus(self, "Events")
        buckets = Buckets(self, "Buckets", queues=sending.queues)
        apis = {
            api.id: HttpApi(
                self,
                f"{api.id}-api",
                spec=api,
                domain_name=settings.tracking_domain if api is wiring.TRACKING_API else None,
                certificate_arn=settings.tracking_certificate_arn if api is wiring.TRACKING_API else None,
            )
            for api in wiring.APIS
        }
        queues = {queue.id: sending.queues[queue.id] for queue in wiring.QUEUES}
        one_time = OneTimeScheduleGroups(self, "OneTimeSchedules", queues=queues)
        functions = Functions(
            self,
            "Functions",
            layers=Layers(self, "Layers", content_root=content_root),
            environment={
                **{table.env: data.tables[table.id].table_name for table in wiring.TABLES},
                **{queue.env: sending.queues[queue.id].queue_url for queue in wiring.QUEUES},
                **{secret.env: data.secrets[secret.id].secret_arn for secret in wiring.SECRETS},
                **{bucket.env: buckets.buckets[bucket.id].bucket_name for bucket in wiring.BUCKETS},
                **{api.url_env: apis[api.id].url for api in wiring.APIS if api.url_env},
                wiring.BUS_ENV: bus.bus.event_bus_name,
                # The whole From, display name included; SES authorizes the address part (sending.py).
                wiring.SENDER_ENV: settings.sender,
                wiring.CONFIGURATION_SET_ENV: sending.configuration_set.configuration_set_name,
                wiring.CONTENT_DIR_ENV: CONTENT_DIR,
                **one_time.environment(queues),
            },
        )
        streams = Streams(self, "Streams")
        scheduling = Scheduling(self, "Scheduling")

        for spec in wiring.FUNCTIONS:
            function = functions.by_name[spec.name]
            self._grant(spec, function, data=data, sending=sending, bus=bus)
            for bucket in spec.reads_objects:
                buckets.grant_read(bucket, function)
            for bucket in spec.writes_objects:
                buckets.grant_write(bucket, function)
            for route in spec.routes:
                apis[route.api.id].add_route(route, spec, function)
            if spec.queue_trigger:
                sending.consume(spec, function)
            if spec.stream_trigger:
                streams.add(spec, function, data.tables[spec.stream_trigger.table.id])
            if spec.rule_trigger:
                bus.route(spec, function)
            if spec.schedule:
                scheduling.add(spec, function)
            if spec.creates_schedules:
                one_time.grant(spec, function)
            if spec.reads_send_quota:
                sending.grant_read_send_quota(function)

        alarm_topic = AlarmTopic(self, "Alarms")
        monitoring = Monitoring(
            self,
            "Monitoring",
            alarm_topic=alarm_topic.topic,
            functions=functions.by_name,
            dead_letter_queues={
                **sending.dead_letter_queues,
                "streams": streams.dead_letters,
                "events": bus.dead_letters,
                "schedules": scheduling.dead_letters,
            },
        )
        for api in wiring.APIS:
            CfnOutput(self, f"{api.id}-url", value=apis[api.id].url, description=f"Base URL of the {api.id} API")
        CfnOutput(
            self,
            "api-key-secret",
            value=data.secrets[wiring.API_KEY.id].secret_name,
            description="Secret holding the admin API key (JSON field api_key)",
        )
        CfnOutput(self, "configuration-set", value=sending.configuration_set.configuration_set_name)
        CfnOutput(
            self,
            "alarm-topic",
            value=alarm_topic.topic.topic_arn,
            description="SNS topic every alarm notifies: subscribe your channel (e-mail, chat, pager) to it",
        )
        # Exposed for tests and for stacks that build on this one.
        self.data, self.sending, self.bus, self.apis = data, sending, bus, apis
        self.functions, self.streams, self.scheduling = functions, streams, scheduling
        self.alarm_topic, self.monitoring = alarm_topic, monitoring
        self.buckets, self.one_time_schedules = buckets, one_time

    @staticmethod
    def _grant(spec: wiring.Function, function: lambda_.Function, *, data: Data, sending: Sending, bus: Bus) -> None:
        """Turn the function's declared intent (reads, writes, sends_to, ...) into least-privilege grants."""
        for table in spec.reads:
            data.tables[table.id].grant_read_data(function)
        for table in spec.writes:
            data.tables[table.id].grant_write_data(function)
        for queue in spec.sends_to:
            sending.queues[queue.id].grant_send_messages(function)
        for secret in spec.secrets:
            data.secrets[secret.id].grant_read(function)
        if spec.publishes_events:
            bus.bus.grant_put_events_to(function)
        if spec.sends_email:
            sending.grant_send_email(function)
        # On the role, so it covers the overflow policies CDK adds when the default one outgrows IAM's size limit.
        policy = function.role
        for table in {*spec.reads, *spec.writes}:
            if table.indexes:
                acknowledge(
                    policy,
                    f"AwsSolutions-IAM5[Resource::{arn_placeholder(data.tables[table.id])}/index/*]",
                    f"Access to the {table.id} table's own secondary indexes "
                    f"({', '.join(i.name for i in table.indexes)}); CDK grants index/* of this one table, no other.",
                )
