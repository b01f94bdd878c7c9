"""Small AWS adapters: SES v2 mailer, SQS queues, EventBridge publisher. Each creates its boto3 client lazily."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cached_property

import boto3
from botocore.exceptions import ClientError

from closedloop.clock import Clock
from closedloop.errors import ProviderRejected, ProviderThrottled
from closedloop.mail import OutgoingMail
from closedloop.ports import Activity
from closedloop.sending import SendRequest
from closedloop.settings import Settings

_THROTTLING = {"TooManyRequestsException", "ThrottlingException", "Throttling", "LimitExceededException"}
_SQS_BATCH = 10


class SesMailer:
    """SES v2 with raw MIME, so every header (List-Unsubscribe, our message id) is ours to set."""

    def __init__(self, clock: Clock, configuration_set: str | None) -> None:
        self._clock = clock
        self._configuration_set = configuration_set

    @cached_property
    def _client(self):
        return boto3.client("sesv2")

    def send(self, mail: OutgoingMail) -> str:
        request = {
            "FromEmailAddress": mail.sender,
            "Destination": {"ToAddresses": [mail.to]},
            "Content": {"Raw": {"Data": mime(mail, self._clock).as_bytes()}},
            "EmailTags": [{"Name": name, "Value": value} for name, value in mail.tags.items()],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            return self._client.send_email(**request)["MessageId"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _THROTTLING:
                raise ProviderThrottled(f"SES throttled the send ({code})") from error
            raise ProviderRejected(f"SES refused the send ({code})") from error


def mime(mail: OutgoingMail, clock: Clock) -> EmailMessage:
    """The message as sent: multipart/alternative with a text and an HTML part."""
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(clock.now())
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class SqsSendQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings  # the URL is read on first use: a function without the queue never needs it

    @cached_property
    def _client(self):
        return boto3.client("sqs")

    def enqueue(self, requests: list[SendRequest], delay_seconds: int = 0) -> None:
        for start in range(0, len(requests), _SQS_BATCH):
            chunk = requests[start:start + _SQS_BATCH]
            entries = [{"Id": str(n), "MessageBody": r.to_json(), "DelaySeconds": delay_seconds}
                       for n, r in enumerate(chunk)]
            response = self._client.send_message_batch(QueueUrl=self._settings.send_queue_url, Entries=entries)
            if response.get("Failed"):
                # Raise so the caller's retry repeats the whole batch; the send ledger absorbs the repeats.
                raise RuntimeError(f"SQS refused {len(response['Failed'])} of {len(entries)} send requests")


class SqsActivityQueue:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @cached_property
    def _client(self):
        return boto3.client("sqs")

    def enqueue(self, activity: Activity) -> None:
        self._client.send_message(QueueUrl=self._settings.activity_queue_url, MessageBody=json.dumps(activity.to_dict()))


class EventBridgePublisher:
    def __init__(self, settings: Settings, source: str = "closedloop") -> None:
        self._settings = settings
        self._source = source

    @cached_property
    def _client(self):
        return boto3.client("events")

    def publish(self, detail_type: str, detail: dict) -> None:
        response = self._client.put_events(Entries=[{
            "EventBusName": self._settings.event_bus_name, "Source": self._source, "DetailType": detail_type, "Detail": json.dumps(detail),
        }])
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused the {detail_type} event")
