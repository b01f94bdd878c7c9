"""The outbox page and the raw messages: looking records no opens, each mail downloads as SES accepted it."""

from __future__ import annotations

import email
import email.policy
import re

import boto3
import pytest
from boto3.dynamodb.conditions import Attr

from closedloop_local import aws, outbox_page
from closedloop_local.client import LocalClient
from closedloop_local.runtime import Runtime
from infra import wiring

pytestmark = pytest.mark.e2e

ADA, BEN = "p-page-ada", "p-page-ben"
OPEN_URL = re.compile(r"https?://[^\s\"'<>]+/o/[A-Za-z0-9._~%-]+")


def email_of(profile_id: str) -> str:
    return f"{profile_id}@example.net"


def opens(runtime: Runtime) -> list[dict]:
    """Every open the activity table holds (sort key open#...), read from moto directly."""
    table = boto3.resource(
        "dynamodb",
        endpoint_url=runtime.resources.endpoint,
        region_name=aws.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table(runtime.resources.tables[wiring.ACTIVITY.id])
    return table.scan(FilterExpression=Attr("sk").begins_with("open#"))["Items"]


@pytest.fixture(scope="module")
def sent(client: LocalClient) -> list[dict]:
    """Ada gets the newsletter and then a birthday mail; Ben the newsletter. The outbox, oldest first."""
    client.set_clock("2026-03-02T08:00:00Z")
    for profile_id, name in ((ADA, "Ada"), (BEN, "Ben")):
        client.put_profile(profile_id, email_of(profile_id), first_name=name)
    client.send(ADA, "newsletter-demo", "page-newsletter")
    client.send(BEN, "newsletter-demo", "page-newsletter")
    client.drain()
    client.send(ADA, "birthday", "page-birthday")
    client.drain()
    return client.outbox()


@pytest.fixture(scope="module")
def page(client: LocalClient, sent: list[dict]):
    return client.request("GET", "/_local/outbox.html")


def test_the_mails_carry_an_open_pixel_the_page_must_hide(sent: list[dict]):
    assert all(OPEN_URL.search(message["html"]) for message in sent)


def test_the_page_contains_no_open_pixel_url(page):
    assert page.status == 200
    assert "/o/" not in page.body.decode()


def test_the_page_forbids_images_other_than_data_and_https(page):
    assert page.headers["Content-Security-Policy"] == outbox_page.CONTENT_SECURITY_POLICY
    assert "img-src data: https:" in page.headers["Content-Security-Policy"]


def test_viewing_the_page_records_no_open_but_loading_the_pixel_does(
    runtime: Runtime, client: LocalClient, sent: list[dict], page
):
    before = opens(runtime)
    pixel = OPEN_URL.search(sent[0]["html"]).group(0)
    client.request("GET", pixel, auth=False)
    client.drain()

    assert before == []
    assert len(opens(runtime)) == 1


def test_the_page_lists_the_newest_first(page, sent: list[dict]):
    subjects = re.findall(r"<h2>\d+\. (.*?)</h2>", page.body.decode())

    assert subjects == [message["subject"] for message in reversed(sent)]


def shown(client: LocalClient, query: str) -> list[tuple[str, str]]:
    """(recipient, template) of each message the page shows for `query`, top to bottom."""
    text = client.request("GET", f"/_local/outbox.html?{query}").body.decode()
    return re.findall(r"<b>to</b> <a [^>]*>([^<]+)</a>.*?<b>template</b> ([^\s<]+)", text, flags=re.S)


def test_the_page_filters_by_recipient_and_template(client: LocalClient, sent: list[dict]):
    newest_first = [(m["to"][0], m["template"]) for m in reversed(sent)]

    # An empty value is the form's "any".
    assert shown(client, f"to={email_of(ADA)}&template=") == [m for m in newest_first if m[0] == email_of(ADA)]
    assert shown(client, "template=newsletter-demo") == [m for m in newest_first if m[1] == "newsletter-demo"]
    assert shown(client, f"to={email_of(BEN)}&template=birthday") == []
    assert len(shown(client, "")) == 3


def test_the_json_outbox_stays_oldest_first(client: LocalClient, sent: list[dict]):
    assert [m["template"] for m in client.outbox(to=email_of(ADA))] == ["newsletter-demo", "birthday"]


def test_the_index_counts_the_messages_in_the_outbox(client: LocalClient, sent: list[dict]):
    assert client.outbox_size() == len(sent) == 3


def test_a_message_downloads_as_the_raw_mime_ses_accepted(client: LocalClient, sent: list[dict]):
    from moto.ses.models import ses_backends

    message = sent[-1]
    accepted = {m.id: m.raw_data for m in ses_backends[aws.ACCOUNT_ID][aws.REGION].sent_messages}
    response = client.request("GET", f"/_local/outbox/{message['message_id']}.eml", auth=False)
    parsed = email.message_from_bytes(response.body, policy=email.policy.default)

    assert response.status == 200
    assert response.headers["Content-Type"] == "message/rfc822"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.body == accepted[message["ses_message_id"]].encode("utf-8")
    assert parsed["Subject"] == message["subject"]
    assert parsed.get_body(("html",)).get_content() == message["html"]


def test_an_unknown_message_id_answers_404_with_a_json_error(client: LocalClient, sent: list[dict]):
    response = client.request("GET", "/_local/outbox/no-such-message.eml", auth=False)

    assert response.status == 404
    assert response.json()["code"] == "message_not_found"


@pytest.mark.parametrize(
    "markup",
    [
        '<img src="http://127.0.0.1:8080/o/k1.abc.def-_~">',
        '<table background="http://127.0.0.1:8080/o/k1.abc.def"><tr><td></td></tr></table>',  # the shipped layout
        "<div style=\"background:url('https://t.example.com/o/k1.abc')\"></div>",
    ],
)
def test_every_form_of_open_pixel_is_replaced_by_a_blank_image(markup: str):
    shown = outbox_page.without_open_pixels(markup)

    assert "/o/" not in shown
    assert outbox_page.BLANK_IMAGE in shown


def test_links_that_are_not_open_pixels_are_left_alone():
    markup = '<a href="http://127.0.0.1:8080/r/k1.abc.def">trip</a> <a href="https://shop.example.com/offers">x</a>'

    assert outbox_page.without_open_pixels(markup) == markup
