"""What recipients meet on /r, /o and /u: HTML (never JSON), keys that rotate without a gap, failures logged."""

import json
import logging

import boto3
import pytest

from closedloop import observability, services
from closedloop.adapters.aws import SqsReactionQueue
from closedloop.tokens import ClickToken, TokenSigner, TrackingKeys
from infra import wiring
from tests.integration.conftest import (
    admin,
    deliver_clicks,
    drain_sends,
    mails_to,
    put_profile,
    tracked_links,
    tracking,
)


def newsletter(resources, profile_id) -> dict:
    put_profile(profile_id)
    admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo"})
    drain_sends(resources)
    (mail,) = mails_to(profile_id)
    return mail


@pytest.mark.parametrize("function", [wiring.CLICK, wiring.OPEN, wiring.UNSUBSCRIBE])
def test_a_bad_link_answers_a_small_html_page_not_json(resources, function):
    response = tracking(function, "GET", "k1.garbage")
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"].startswith("text/html")
    assert "This link does not work" in response["body"] and "Location" not in response["headers"]


@pytest.fixture
def rotated_keys(resources):
    """Rotate as the README says: add k2 with a fresh value and point current at it; restore afterwards."""
    secrets = boto3.client("secretsmanager")
    arn = resources.secrets[wiring.TRACKING_KEYS.id]
    old = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])

    def rotate(keep_old: bool) -> TokenSigner:
        new = {"current": "k2", "k2": "a-fresh-random-value-for-k2", **({"k1": old["k1"]} if keep_old else {})}
        secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(new))
        return TokenSigner(TrackingKeys.from_secret(new))

    yield rotate
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps(old))


def test_a_link_signed_with_a_key_added_a_moment_ago_works_in_a_container_with_cached_keys(
    resources, profile_id, rotated_keys, clock
):
    mail = newsletter(resources, profile_id)
    old_token = tracked_links(mail)[0]
    assert tracking(wiring.CLICK, "GET", old_token)["statusCode"] == 302  # this container now caches k1 only
    signer = rotated_keys(keep_old=True)
    _, message_id, _, link_set, link_no, _ = old_token.split(".")
    new_token = signer.click(ClickToken(message_id, profile_id, link_set, int(link_no)))
    assert tracking(wiring.CLICK, "GET", new_token)["statusCode"] == 302
    deliver_clicks(resources, clock)
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["interests"] == {"travel": 2}


def test_an_unsubscribe_link_whose_key_was_removed_still_lets_the_person_leave_after_confirming_the_address(
    resources, profile_id, rotated_keys
):
    mail = newsletter(resources, profile_id)
    token = mail["headers"]["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    rotated_keys(keep_old=False)
    services.reset()  # a container that read the keys after the rotation
    page = tracking(wiring.UNSUBSCRIBE, "GET", token)
    assert page["statusCode"] == 404 and 'name="email"' in page["body"]
    wrong = tracking(wiring.UNSUBSCRIBE, "POST", token, form="email=someone-else%40example.net")
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["status"] == "subscribed"
    right = tracking(wiring.UNSUBSCRIBE, "POST", token, form=f"email={profile_id.upper()}%40example.net")
    assert wrong["body"] == right["body"]  # the page tells nobody whether the address matched
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["status"] == "unsubscribed"


def test_a_one_click_post_with_a_tampered_signature_changes_nothing(resources, profile_id):
    mail = newsletter(resources, profile_id)
    token = mail["headers"]["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    response = tracking(wiring.UNSUBSCRIBE, "POST", tampered, form="List-Unsubscribe=One-Click")
    assert response["statusCode"] == 404
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["status"] == "subscribed"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_lost_click_is_logged_with_its_cause_and_without_the_address(resources, profile_id, monkeypatch):
    mail = newsletter(resources, profile_id)

    def outage(*args, **kwargs):
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(SqsReactionQueue, "enqueue", outage)
    records = Records()
    logging.getLogger(observability.logger.name).addHandler(records)
    try:
        assert tracking(wiring.CLICK, "GET", tracked_links(mail)[0])["statusCode"] == 302
    finally:
        logging.getLogger(observability.logger.name).removeHandler(records)
    (lost,) = [r for r in records.records if getattr(r, "outcome", None) == "lost"]
    assert (lost.levelname, lost.cause, lost.profile_id) == ("ERROR", "ConnectionResetError", profile_id)
    assert not any("@" in str(r.__dict__) for r in records.records)


def test_an_open_token_is_no_unsubscribe_token(resources, profile_id):
    mail = newsletter(resources, profile_id)
    open_token = mail["html"].split("/o/", 1)[1].split('"', 1)[0]
    assert tracking(wiring.UNSUBSCRIBE, "POST", open_token)["statusCode"] == 404
