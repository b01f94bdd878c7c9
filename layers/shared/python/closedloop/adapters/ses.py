"""SES v2 mailer: raw MIME, so every header (List-Unsubscribe, our message id) is ours to set.

Kept apart from the other AWS adapters so the click path never imports the email package.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from functools import cached_property

import boto3
from botocore.exceptions import ClientError

from closedloop.clock import Clock
from closedloop.errors import ProviderRejected, ProviderThrottled
from closedloop.mail import OutgoingMail

_THROTTLING = {"TooManyRequestsException", "ThrottlingException", "Throttling", "LimitExceededException"}


class SesMailer:
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
