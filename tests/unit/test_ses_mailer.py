"""The SES adapter tells "not sent, try later" from "not sent, will not work" (botocore's Stubber; no network)."""

import email
import email.policy

import boto3
import pytest
from botocore.stub import Stubber

from closedloop.adapters.ses import SesMailer, mime
from closedloop.clock import FixedClock
from closedloop.errors import ProviderRejected, ProviderThrottled
from closedloop.mail import OutgoingMail

MAIL = OutgoingMail(
    message_id="m1",
    profile_id="p-ada",
    sender="news@example.com",
    to="ada@example.com",
    subject="Hello Ada",
    html="<p>Hi</p>",
    text="Hi",
    headers={"List-Unsubscribe": "<https://l.example/u/t>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    tags={"template": "birthday"},
)


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
    stubber.add_response("send_email", {"MessageId": "ses-1"})
    assert ses.send(MAIL) == "ses-1"


@pytest.mark.parametrize("code", ["TooManyRequestsException", "LimitExceededException"])
def test_throttling_means_not_sent_and_retry_later(mailer, code):
    ses, stubber = mailer
    stubber.add_client_error("send_email", service_error_code=code, http_status_code=429)
    with pytest.raises(ProviderThrottled):
        ses.send(MAIL)


def test_a_refusal_means_not_sent_and_not_worth_retrying_as_is(mailer):
    ses, stubber = mailer
    stubber.add_client_error("send_email", service_error_code="MessageRejected", http_status_code=400)
    with pytest.raises(ProviderRejected):
        ses.send(MAIL)


def test_the_raw_message_has_both_parts_and_the_one_click_headers(now):
    parsed = email.message_from_bytes(mime(MAIL, FixedClock(now)).as_bytes(), policy=email.policy.default)
    assert [part.get_content_type() for part in parsed.walk()][1:] == ["text/plain", "text/html"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["Date"] == "Sun, 22 Nov 2026 10:00:00 +0000"
