"""The SES adapter sorts every failure into retry later / not sent for good / unknown (Stubber; no network)."""

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber

from closedloop.adapters.ses import SesMailer
from closedloop.clock import FixedClock
from closedloop.errors import ProviderRejected, ProviderThrottled, ProviderUnavailable
from tests.unit.test_mail import MAIL

RAW = b"raw"


@pytest.fixture
def mailer(now):
    mailer = SesMailer(FixedClock(now), "closedloop")
    mailer.__dict__["_client"] = boto3.client(
        "sesv2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(mailer._client) as stubber:
        yield mailer, stubber


def test_an_accepted_mail_returns_the_providers_message_id(mailer):
    ses, stubber = mailer
    expected = {
        "FromEmailAddress": "news@example.com",  # the display name travels in the raw From header
        "Destination": {"ToAddresses": ["ada@example.com"]},
        "Content": {"Raw": {"Data": RAW}},
        "EmailTags": [{"Name": "template", "Value": "birthday"}],
        "ConfigurationSetName": "closedloop",
    }
    stubber.add_response("send_email", {"MessageId": "ses-1"}, expected)
    assert ses.send(MAIL, RAW) == "ses-1"


@pytest.mark.parametrize("code", ["TooManyRequestsException", "LimitExceededException"])
def test_throttling_means_not_sent_and_retry_later(mailer, code):
    ses, stubber = mailer
    stubber.add_client_error("send_email", service_error_code=code, http_status_code=429)
    with pytest.raises(ProviderThrottled):
        ses.send(MAIL, RAW)


@pytest.mark.parametrize("code", ["MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException"])
def test_a_refusal_means_not_sent_and_not_worth_retrying_as_is(mailer, code):
    ses, stubber = mailer
    stubber.add_client_error("send_email", service_error_code=code, http_status_code=400)
    with pytest.raises(ProviderRejected, match=code):
        ses.send(MAIL, RAW)


def test_a_server_error_of_ses_means_not_sent_and_worth_retrying(mailer):
    ses, stubber = mailer
    stubber.add_client_error("send_email", service_error_code="InternalFailure", http_status_code=500)
    with pytest.raises(ProviderUnavailable):
        ses.send(MAIL, RAW)


@pytest.mark.parametrize(
    "error", [EndpointConnectionError(endpoint_url="https://x"), ConnectTimeoutError(endpoint_url="https://x")]
)
def test_a_connection_that_was_never_made_means_not_sent(mailer, error, monkeypatch):
    ses, _ = mailer
    monkeypatch.setattr(ses._client, "send_email", lambda **_: (_ for _ in ()).throw(error))
    with pytest.raises(ProviderUnavailable):
        ses.send(MAIL, RAW)


def test_a_read_timeout_is_passed_on_as_unknown(mailer, monkeypatch):
    ses, _ = mailer
    error = ReadTimeoutError(endpoint_url="https://x")
    monkeypatch.setattr(ses._client, "send_email", lambda **_: (_ for _ in ()).throw(error))
    with pytest.raises(ReadTimeoutError):
        ses.send(MAIL, RAW)


def test_the_ses_client_never_retries_a_send_itself(monkeypatch):
    # A retry after a read timeout could send twice; a throttle must reach the gate, which defers it durably.
    made = {}
    monkeypatch.setattr(boto3, "client", lambda service, config=None: made.setdefault(service, config))
    client = SesMailer(FixedClock("2026-03-01T12:00:00Z"), None)._client
    assert client is made["sesv2"] and client.retries["total_max_attempts"] == 1
