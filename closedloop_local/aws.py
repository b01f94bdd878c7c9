"""moto as AWS: an in-process moto server and every resource of infra/wiring.py created in it.

Nothing here declares a table, queue or secret of its own; it loops over wiring. The only local additions are the
parts moto cannot play: one "tap" queue per EventBridge rule (moto cannot invoke Lambda, so a rule targets a queue
the pump reads), a DLQ behind each tap (standing in for the rule target's retry policy) and one per stream trigger
(the event source mapping's on-failure destination).

moto's server answers on many threads, but its DynamoDB is a read-modify-write on Python objects: two concurrent
`ADD interests.travel 1` can lose one. DynamoDB applies each item write atomically, so the local server takes one
request at a time (`_serial_moto_server`); races between Lambda invocations then play out as in the cloud.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

import boto3

from infra import wiring

ACCOUNT_ID = "123456789012"  # moto's default account; the outbox reads its SES backend
REGION = "us-east-1"
BUS_NAME = "closedloop"
DEFAULT_BUS_NAME = "default"  # the account's own bus, where SES publishes configuration-set events (moto has it)
CONFIGURATION_SET = "closedloop"
DEFAULT_SENDER = "newsletter@example.com"
DEFAULT_API_KEY = "local-dev-key"
# Deliveries of one EventBridge event before it lands in its tap's DLQ (EventBridge retries, then dead-letters).
TAP_MAX_RECEIVE_COUNT = 5


@dataclass(frozen=True)
class QueueRef:
    name: str
    url: str
    arn: str
    dlq_url: str


@dataclass(frozen=True)
class Tap:
    """The local stand-in for an EventBridge rule → Lambda target."""

    rule: wiring.RuleTrigger
    function: wiring.Function
    queue: QueueRef


@dataclass(frozen=True)
class StreamRef:
    """A table's stream and the function its event source mapping feeds."""

    table_id: str
    arn: str
    function: wiring.Function
    dlq_url: str


@dataclass
class Resources:
    endpoint: str
    tables: dict[str, str] = field(default_factory=dict)  # wiring id -> table name
    queues: dict[str, QueueRef] = field(default_factory=dict)  # wiring id -> queue
    taps: list[Tap] = field(default_factory=list)
    streams: list[StreamRef] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # wiring id -> secret ARN
    buckets: dict[str, str] = field(default_factory=dict)  # wiring id -> bucket name
    schedule_groups: dict[str, str] = field(default_factory=dict)  # wiring id -> one-time schedule group name
    bus_name: str = BUS_NAME
    sender: str = DEFAULT_SENDER
    api_key: str = DEFAULT_API_KEY

    def function_environment(self, *, base_url: str, content_dir: str) -> dict[str, str]:
        """The variables of every wiring function at once, pointing at these resources."""
        by_env: dict[str, str] = {}
        by_env.update({t.env: self.tables[t.id] for t in wiring.TABLES})
        by_env.update({q.env: self.queues[q.id].url for q in wiring.QUEUES})
        by_env.update({s.env: self.secrets[s.id] for s in wiring.SECRETS})
        by_env.update({b.env: self.buckets[b.id] for b in wiring.BUCKETS})
        by_env.update({api.url_env: base_url for api in wiring.APIS})
        by_env[wiring.BUS_ENV] = self.bus_name
        for group in wiring.ONE_TIME_SCHEDULES:
            by_env[group.group_env] = self.schedule_groups[group.id]
            # moto does not assume the role; the ARN only has to look like the stack's.
            by_env[group.role_env] = f"arn:aws:iam::{ACCOUNT_ID}:role/{group.id}-schedules"
            by_env[group.target_arn_env] = self.queues[group.target.id].arn

        env: dict[str, str] = {}
        for function in wiring.FUNCTIONS:
            for name in wiring.environment_names(function):
                env[name] = by_env[name]
        env[wiring.SENDER_ENV] = self.sender
        env[wiring.CONFIGURATION_SET_ENV] = CONFIGURATION_SET
        env[wiring.CONTENT_DIR_ENV] = content_dir
        return env


def aws_environment(endpoint: str) -> dict[str, str | None]:
    """Process variables that send every boto3/botocore client (pynamodb included) to moto; None unsets."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_PROFILE": None,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }


def start_moto(host: str = "127.0.0.1", port: int = 0, *, remember_dispatch: bool = False) -> tuple[Any, str]:
    """Start moto's server in a thread (port 0: any free port) and return it with its endpoint URL.

    `remember_dispatch`: route requests with `moto_speedups.Dispatcher` (the local runtime does; tests and the
    bench measure moto as it is).
    """
    from .outbox import route_get_account

    route_get_account()
    server = _serial_moto_server(host, port, remember_dispatch)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def _serial_moto_server(host: str, port: int, remember_dispatch: bool) -> Any:
    """moto's ThreadedMotoServer, answering one request at a time (see the module docstring)."""
    # Imported here: execution environments import this module and need no moto.
    import threading

    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from .moto_speedups import Dispatcher

    dispatcher = Dispatcher if remember_dispatch else DomainDispatcherApplication

    class SerialMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = dispatcher(create_backend_app)
            lock = threading.Lock()

            def one_at_a_time(environ: dict, start_response: Any) -> list[bytes]:
                with lock:
                    return list(app(environ, start_response))

            self._server = make_server(
                self._ip_address, self._port, one_at_a_time, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return SerialMotoServer(ip_address=host, port=port, verbose=False)


def _client(service: str, endpoint: str):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def create_resources(endpoint: str, *, sender: str | None = None, api_key: str | None = None) -> Resources:
    """Create every wiring resource in the moto server at `endpoint`."""
    resources = Resources(
        endpoint=endpoint,
        sender=sender or os.environ.get(wiring.SENDER_ENV) or DEFAULT_SENDER,
        api_key=api_key or os.environ.get("CLOSEDLOOP_API_KEY") or DEFAULT_API_KEY,
    )
    sqs = _client("sqs", endpoint)
    _create_tables(_client("dynamodb", endpoint), sqs, resources)
    for queue in wiring.QUEUES:
        consumer = wiring.consumer_of(queue)
        resources.queues[queue.id] = _create_queue(
            sqs,
            queue.id,
            max_receive_count=queue.max_receive_count,
            visibility_timeout=wiring.VISIBILITY_TIMEOUT_FACTOR * consumer.timeout_s,
        )
    _create_bus_and_taps(_client("events", endpoint), sqs, resources)
    _create_buckets(_client("s3", endpoint), resources)
    scheduler = _client("scheduler", endpoint)
    for group in wiring.ONE_TIME_SCHEDULES:
        scheduler.create_schedule_group(Name=group.id)
        resources.schedule_groups[group.id] = group.id
    _create_secrets(_client("secretsmanager", endpoint), resources)
    sesv2 = _client("sesv2", endpoint)
    sesv2.create_email_identity(EmailIdentity=resources.sender)
    sesv2.create_configuration_set(ConfigurationSetName=CONFIGURATION_SET)
    return resources


def _create_tables(dynamodb, sqs, resources: Resources) -> None:
    for table in wiring.TABLES:
        keys = [(table.partition_key, "HASH")] + ([(table.sort_key, "RANGE")] if table.sort_key else [])
        attributes = {name for name, _ in keys}
        indexes = []
        for index in table.indexes:
            attributes.update({index.partition_key, index.sort_key})
            indexes.append(
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": index.projection},
                }
            )
        request = {
            "TableName": table.id,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": name, "KeyType": kind} for name, kind in keys],
            # wiring declares no key types; every key closedloop writes is a string.
            "AttributeDefinitions": [{"AttributeName": name, "AttributeType": "S"} for name in sorted(attributes)],
        }
        if indexes:
            request["GlobalSecondaryIndexes"] = indexes
        if table.stream:
            request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": table.stream}
        description = dynamodb.create_table(**request)["TableDescription"]
        if table.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=table.id,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
        resources.tables[table.id] = table.id
        for function in wiring.FUNCTIONS:
            if function.stream_trigger is not None and function.stream_trigger.table == table:
                dlq = sqs.create_queue(QueueName=f"stream-{function.name}-dlq")["QueueUrl"]
                resources.streams.append(
                    StreamRef(table_id=table.id, arn=description["LatestStreamArn"], function=function, dlq_url=dlq)
                )


def _create_queue(sqs, name: str, *, max_receive_count: int, visibility_timeout: int) -> QueueRef:
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq", Attributes={"MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return QueueRef(name=name, url=url, arn=arn, dlq_url=dlq_url)


def _create_bus_and_taps(events, sqs, resources: Resources) -> None:
    events.create_event_bus(Name=resources.bus_name)
    for function in wiring.FUNCTIONS:
        rule = function.rule_trigger
        if rule is None:
            continue
        tap = _create_queue(
            sqs, f"tap-{rule.id}", max_receive_count=TAP_MAX_RECEIVE_COUNT, visibility_timeout=6 * function.timeout_s
        )
        bus = resources.bus_name if rule.bus == wiring.CLOSEDLOOP_BUS else DEFAULT_BUS_NAME
        events.put_rule(Name=rule.id, EventBusName=bus, EventPattern=json.dumps(rule.pattern), State="ENABLED")
        events.put_targets(Rule=rule.id, EventBusName=bus, Targets=[{"Id": "tap", "Arn": tap.arn}])
        resources.taps.append(Tap(rule=rule, function=function, queue=tap))


def _create_buckets(s3, resources: Resources) -> None:
    """Each wiring bucket, expiring its objects and announcing new ones on its queue, as the stack configures it.

    moto delivers the notification itself (into its SQS, where the pump picks it up), including the s3:TestEvent
    that S3 sends when a notification is configured.
    """
    for bucket in wiring.BUCKETS:
        s3.create_bucket(Bucket=bucket.id)
        rule = {"Status": "Enabled", "Filter": {"Prefix": bucket.prefix}, "Expiration": {"Days": bucket.expire_days}}
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket.id, LifecycleConfiguration={"Rules": [{"ID": "expire-uploads", **rule}]}
        )
        if bucket.notifies is not None:
            prefix = {"Key": {"FilterRules": [{"Name": "prefix", "Value": bucket.prefix}]}}
            queue = {"QueueArn": resources.queues[bucket.notifies.id].arn, "Events": ["s3:ObjectCreated:*"]}
            s3.put_bucket_notification_configuration(
                Bucket=bucket.id, NotificationConfiguration={"QueueConfigurations": [{**queue, "Filter": prefix}]}
            )
        resources.buckets[bucket.id] = bucket.id


def _create_secrets(secretsmanager, resources: Resources) -> None:
    for secret in wiring.SECRETS:
        value = json.loads(secret.template)
        if secret == wiring.API_KEY:
            value[secret.generated_key] = resources.api_key
        else:
            value[secret.generated_key] = secrets.token_urlsafe(32)
        arn = secretsmanager.create_secret(Name=secret.id, SecretString=json.dumps(value))["ARN"]
        resources.secrets[secret.id] = arn
