"""The loop at handler depth: newsletter -> click -> profile -> threshold event -> follow-up mail."""

import re
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from closedloop.adapters.aws import SqsReactionQueue
from closedloop.adapters.dynamo import DynamoLedger
from infra import wiring
from tests.integration.conftest import (
    admin,
    deliver_clicks,
    drain_sends,
    invoke,
    mails_to,
    put_profile,
    queue_messages,
    tap_events,
    tracked_links,
    tracking,
)


def newsletter_links(resources, profile_id) -> dict[str, str]:
    admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "newsletter-demo"})
    drain_sends(resources)
    (mail,) = mails_to(profile_id)
    travel, cars = tracked_links(mail)
    return {"travel": travel, "cars": cars}


def deliver_bus_events(resources) -> None:
    for event in tap_events(resources, wiring.THRESHOLD_FOLLOW_UP):
        invoke(wiring.THRESHOLD_FOLLOW_UP, event)


def test_a_click_redirects_to_the_target_and_counts_the_interest(resources, profile_id, clock):
    put_profile(profile_id)
    links = newsletter_links(resources, profile_id)
    response = tracking(wiring.CLICK, "GET", links["travel"])
    assert (response["statusCode"], response["headers"]["Location"]) == (302, "https://travel.example.com/australia")
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["interests"] == {}  # nothing moves before it settles
    deliver_clicks(resources, clock)
    profile = admin("GET", f"/v1/profiles/{profile_id}")[1]
    assert (profile["interests"], profile["last_activity_at"]) == ({"travel": 1}, "2026-03-01T12:00:00Z")


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # tampered signature
        lambda t: t[:20],  # truncated
        lambda t: "k9" + t[2:],  # unknown key id
        lambda t: t.replace(".1.", ".0.", 1) if ".1." in t else t[:-2] + "xx",  # replayed with another link
        lambda t: "garbage",
    ],
)
def test_a_bad_token_gets_404_without_location_and_records_nothing(resources, profile_id, mangle, clock):
    put_profile(profile_id)
    links = newsletter_links(resources, profile_id)
    response = tracking(wiring.CLICK, "GET", mangle(links["cars"]))
    assert response["statusCode"] == 404 and "Location" not in response["headers"]
    assert deliver_clicks(resources, clock) == []


def test_three_clicks_cross_the_threshold_and_the_follow_up_is_sent_once(resources, profile_id, clock, profile_stream):
    put_profile(profile_id)
    links = newsletter_links(resources, profile_id)
    for _ in range(4):
        tracking(wiring.CLICK, "GET", links["cars"])
        clock.advance(minutes=1)
    deliver_clicks(resources, clock)
    records = profile_stream.poll()
    assert invoke(wiring.THRESHOLD_CROSSINGS, {"Records": records}) == {"batchItemFailures": []}
    invoke(wiring.THRESHOLD_CROSSINGS, {"Records": records})  # a redelivered stream batch fires nothing more
    deliver_bus_events(resources)
    deliver_bus_events(resources)  # an EventBridge redelivery changes nothing
    drain_sends(resources)
    assert [m["subject"] for m in mails_to(profile_id)][1:] == ["Your test drive is waiting, Ada"]


def test_a_click_the_queue_cannot_take_still_redirects(resources, profile_id, monkeypatch, clock):
    put_profile(profile_id)
    links = newsletter_links(resources, profile_id)

    def outage(*args, **kwargs):
        raise ConnectionError("SQS unreachable")

    with monkeypatch.context() as patch:
        patch.setattr(SqsReactionQueue, "enqueue", outage)
        response = tracking(wiring.CLICK, "GET", links["travel"])
    assert response["statusCode"] == 302
    assert deliver_clicks(resources, clock) == []


def test_every_step_of_a_click_redelivered_counts_it_once(resources, profile_id, clock):
    put_profile(profile_id)
    links = newsletter_links(resources, profile_id)
    tracking(wiring.CLICK, "GET", links["travel"])
    stored = queue_messages(wiring.REACTIONS_QUEUE, resources)
    assert invoke(wiring.REACTIONS, {"Records": stored + stored}) == {"batchItemFailures": []}
    clock.advance(seconds=31)
    settles = queue_messages(wiring.REACTIONS_QUEUE, resources)
    assert len(settles) == 2  # each delivery of the first step asks for the settle step
    assert invoke(wiring.REACTIONS, {"Records": settles + settles}) == {"batchItemFailures": []}
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["interests"] == {"travel": 1}


def test_a_scanner_sweeping_every_link_moves_nothing_and_the_person_later_counts(resources, profile_id, clock):
    put_profile(profile_id)
    links = newsletter_links(resources, profile_id)
    # At delivery a gateway probes each link with HEAD, then opens them with a browser's user agent.
    for link in links.values():
        assert tracking(wiring.CLICK, "HEAD", link)["statusCode"] == 302
    for link in links.values():
        assert tracking(wiring.CLICK, "GET", link)["statusCode"] == 302
    deliver_clicks(resources, clock)
    profile = admin("GET", f"/v1/profiles/{profile_id}")[1]
    assert (profile["interests"], profile["last_activity_at"]) == ({}, None)
    clock.advance(minutes=20)
    tracking(wiring.CLICK, "GET", links["travel"])
    deliver_clicks(resources, clock)
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["interests"] == {"travel": 1}


def test_a_link_checker_by_its_user_agent_moves_nothing(resources, profile_id, clock):
    put_profile(profile_id)
    links = newsletter_links(resources, profile_id)
    tracking(wiring.CLICK, "GET", links["cars"], user_agent="python-requests/2.32.3")
    assert deliver_clicks(resources, clock) == [{"batchItemFailures": []}]  # stored as a bot's: nothing to settle
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["interests"] == {}


def test_a_sender_that_crashes_after_ses_accepted_does_not_send_again_on_redelivery(resources, profile_id, monkeypatch):
    put_profile(profile_id)
    admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    records = queue_messages(wiring.SEND_QUEUE, resources)

    def crash(*args, **kwargs):
        raise RuntimeError("the worker died after SES accepted the message")

    with monkeypatch.context() as patch:
        patch.setattr(DynamoLedger, "mark_sent", crash)
        with pytest.raises(BatchProcessingError):  # every record failed: Lambda retries the whole batch
            invoke(wiring.SENDER, {"Records": records})
    assert invoke(wiring.SENDER, {"Records": records}) == {"batchItemFailures": []}
    assert len(mails_to(profile_id)) == 1


def test_one_bad_record_in_a_batch_fails_alone(resources, profile_id):
    put_profile(profile_id)
    admin("POST", "/v1/messages", {"profile_id": profile_id, "template": "birthday"})
    good = queue_messages(wiring.SEND_QUEUE, resources)
    bad = {**good[0], "messageId": "broken", "body": "{not json"}
    assert invoke(wiring.SENDER, {"Records": [bad, *good]}) == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    assert len(mails_to(profile_id)) == 1


def test_one_click_unsubscribe_is_a_post_and_a_get_changes_nothing(resources, profile_id):
    put_profile(profile_id)
    newsletter_links(resources, profile_id)
    (mail,) = mails_to(profile_id)
    token = mail["headers"]["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]
    page = tracking(wiring.UNSUBSCRIBE, "GET", token)
    assert page["statusCode"] == 200 and '<form method="post"' in page["body"]
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["status"] == "subscribed"
    assert tracking(wiring.UNSUBSCRIBE, "POST", token)["statusCode"] == 200
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["status"] == "unsubscribed"


def test_the_open_pixel_answers_a_gif_and_records_the_open(resources, profile_id, clock):
    put_profile(profile_id)
    newsletter_links(resources, profile_id)
    (mail,) = mails_to(profile_id)
    token = re.search(r"/o/([A-Za-z0-9._:-]+)", mail["html"]).group(1)
    for _ in range(2):  # a second load of the pixel, a minute later, is the same open
        response = tracking(wiring.OPEN, "GET", token)
        assert (response["statusCode"], response["headers"]["Content-Type"]) == (200, "image/gif")
        clock.advance(minutes=1)
    items = boto3.client("dynamodb").query(
        TableName=resources.tables["activity"],
        KeyConditionExpression="profile_id = :p",
        ExpressionAttributeValues={":p": {"S": profile_id}},
    )["Items"]
    assert [item["kind"]["S"] for item in items] == ["open"]
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["last_activity_at"] is None


def test_the_birthday_check_run_twice_queues_one_mail(resources, profile_id, clock):
    put_profile(profile_id, birthday="1990-03-02", timezone="Europe/Berlin")
    clock.advance(days=1)  # 2026-03-02T12:00Z: 13:00 in Berlin, past the 9 o'clock morning
    first = invoke(wiring.BIRTHDAY, {"schedule": "birthday"})
    second = invoke(wiring.BIRTHDAY, {"schedule": "birthday"})
    assert (first["enqueued"] >= 1, second["due"]) == (True, 0)
    drain_sends(resources)
    assert [m["subject"] for m in mails_to(profile_id)] == ["Happy birthday, Ada!"]


def test_we_miss_you_reaches_a_silent_profile_once(resources, profile_id, clock):
    put_profile(profile_id)
    clock.advance(days=61)
    invoke(wiring.WE_MISS_YOU, {"schedule": "we-miss-you"})
    invoke(wiring.WE_MISS_YOU, {"schedule": "we-miss-you"})
    drain_sends(resources)
    assert [m["subject"] for m in mails_to(profile_id)] == ["We miss you, Ada"]
    assert "in 60 days" in mails_to(profile_id)[0]["text"]


def test_concurrent_clicks_count_exactly_and_cross_the_threshold_once(resources, profile_id, profile_stream, clock):
    put_profile(profile_id)
    links = newsletter_links(resources, profile_id)
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: tracking(wiring.CLICK, "GET", links["travel"])["statusCode"], range(24)))
    assert answers == [302] * 24
    deliver_clicks(resources, clock)
    assert admin("GET", f"/v1/profiles/{profile_id}")[1]["interests"] == {"travel": 24}
    invoke(wiring.THRESHOLD_CROSSINGS, {"Records": profile_stream.poll()})
    crossed = tap_events(resources, wiring.THRESHOLD_FOLLOW_UP)
    assert [event["detail"]["rule_id"] for event in crossed] == ["travel-offers"]
