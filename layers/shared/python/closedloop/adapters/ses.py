"""SES v2 mailer: raw MIME, so every header (List-Unsubscribe, our message id) is ours to set.

What SES answers decides what the send gate may do next, so each failure is sorted into one of three:
not sent but worth retrying (throttled, unreachable, SES's own 5xx), not sent and never will be as it is
(a 4xx refusal), or unknown (the request may have reached SES: a read timeout, a dropped connection).

Kept apart from the other AWS adapters so the click path never imports the email package.
"""

from __future__ import annotations

from email.utils import parseaddr
from functools import cached_property

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from closedloop.clock import Clock
from closedloop.errors import ProviderRejected, ProviderThrottled, ProviderUnavailable
from closedloop.mail import OutgoingMail

_THROTTLING = {"TooManyRequestsException", "ThrottlingException", "Throttling", "LimitExceededException"}


class SesMailer:
    def __init__(self, clock: Clock, configuration_set: str | None) -> None:
        self._clock = clock
        self._configuration_set = configuration_set

    @cached_property
    def _client(self):
        # No retries inside botocore: a retried SendEmail after a read timeout could send twice, and a throttled one
        # should come back through the gate's own deferral (durable, counted, paced) rather than wait in a worker.
        return boto3.client("sesv2", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))

    def send(self, mail: OutgoingMail, raw: bytes) -> str:
        request = {
            # The address only: the display name travels in the raw message's From header, encoded there.
            "FromEmailAddress": parseaddr(mail.sender)[1],
            "Destination": {"ToAddresses": [mail.to]},
            "Content": {"Raw": {"Data": raw}},
            "EmailTags": [{"Name": name, "Value": value} for name, value in mail.tags.items()],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            return self._client.send_email(**request)["MessageId"]
        except ClientError as error:
            raise _sorted(error) from error
        except (EndpointConnectionError, ConnectTimeoutError) as error:
            # The connection was never made: the request did not leave this machine.
            raise ProviderUnavailable(f"SES could not be reached ({type(error).__name__})") from error
        # ReadTimeoutError, ConnectionClosedError and anything else propagate: the outcome is unknown.


def _sorted(error: ClientError) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
    if code in _THROTTLING:
        return ProviderThrottled(f"SES throttled the send ({code})")
    if status >= 500:
        return ProviderUnavailable(f"SES failed ({code or status}); it did not accept the message")
    return ProviderRejected(f"SES refused the message ({code})")
