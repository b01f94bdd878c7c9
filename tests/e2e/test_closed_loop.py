"""The closed loop end to end, on a small audience: newsletter, clicks, follow-up offers, birthdays, silence.

Each stage is a module fixture that acts once and snapshots what it saw, so a test reads one stage's results
no matter which tests ran before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from closedloop_local.client import LocalClient, link_containing, tamper

pytestmark = pytest.mark.e2e

START = "2026-02-23T08:00:00Z"
CLICK_TIME = "2026-02-23T10:30:00Z"
BIRTHDAY_TIME = "2026-02-28T15:00:00Z"  # 28 February: past 09:00 in Berlin and Tokyo
SILENCE_TIME = "2026-04-25T08:00:00Z"  # 61 days after the start
PEOPLE = {
    "p-travel": {"first_name": "Ada", "birthday": "1990-02-28", "timezone": "Europe/Berlin"},
    "p-cars": {"first_name": "Carl", "birthday": "1985-07-14", "timezone": "America/New_York"},
    "p-leap": {"first_name": "Lea", "birthday": "1992-02-29", "timezone": "Asia/Tokyo"},
    "p-quiet": {"first_name": "Quinn", "timezone": "Australia/Sydney"},
}


def email(profile_id: str) -> str:
    return f"{profile_id}@example.net"


def mails(outbox: list[dict], template: str, profile_id: str | None = None) -> list[dict]:
    return [m for m in outbox if m["template"] == template and (profile_id is None or email(profile_id) in m["to"])]


@pytest.fixture(scope="module")
def newsletter(client: LocalClient) -> dict:
    client.set_clock(START)
    for profile_id, attributes in PEOPLE.items():
        client.put_profile(profile_id, email(profile_id), **attributes)
    for profile_id in PEOPLE:
        client.send(profile_id, "newsletter-demo", "newsletter-1")
    drained = client.drain()
    return {"drain": drained, "outbox": client.outbox()}


@pytest.fixture(scope="module")
def resent(client: LocalClient, newsletter: dict) -> list[dict]:
    client.send("p-quiet", "newsletter-demo", "newsletter-1")
    client.drain()
    return client.outbox()


def newsletter_link(client: LocalClient, outbox: list[dict], profile_id: str, word: str) -> str:
    (message,) = mails(outbox, "newsletter-demo", profile_id)
    return link_containing(message["html"], word, base_url=client.base_url)


@pytest.fixture(scope="module")
def clicks(client: LocalClient, newsletter: dict) -> dict:
    client.set_clock(CLICK_TIME)
    travel = newsletter_link(client, newsletter["outbox"], "p-travel", "Australia")
    cars = newsletter_link(client, newsletter["outbox"], "p-cars", "car")
    before = {p: client.profile(p) for p in ("p-travel", "p-cars")}
    responses = [client.click(travel) for _ in range(3)] + [client.click(cars) for _ in range(3)]
    tampered = client.click(tamper(travel))
    drained = client.settle()
    return {
        "travel_link": travel,
        "before": before,
        "after": {p: client.profile(p) for p in ("p-travel", "p-cars")},
        "responses": responses,
        "tampered": tampered,
        "drain": drained,
        "outbox": client.outbox(),
    }


@pytest.fixture(scope="module")
def birthdays(client: LocalClient, clicks: dict) -> dict:
    client.set_clock(BIRTHDAY_TIME)
    late_click = client.click(clicks["travel_link"])  # Ada is still interested: activity on day 5
    client.settle()
    first = client.run_schedule("birthday")
    client.drain()
    after_first = client.outbox()
    second = client.run_schedule("birthday")
    client.drain()
    return {
        "late_click": late_click,
        "ada": client.profile("p-travel"),
        "first": first,
        "second": second,
        "after_first": after_first,
        "after_second": client.outbox(),
    }


@pytest.fixture(scope="module")
def silence(client: LocalClient, birthdays: dict) -> dict:
    client.set_clock(SILENCE_TIME)
    client.run_schedule("we-miss-you")
    client.drain()
    after_first = client.outbox()
    client.run_schedule("we-miss-you")
    client.drain()
    return {"after_first": after_first, "after_second": client.outbox()}


def test_the_newsletter_reaches_every_profile_once(newsletter: dict):
    sent = mails(newsletter["outbox"], "newsletter-demo")

    assert sorted(m["to"][0] for m in sent) == sorted(email(p) for p in PEOPLE)


def test_the_newsletter_carries_one_click_unsubscribe_headers(newsletter: dict):
    message = mails(newsletter["outbox"], "newsletter-demo", "p-travel")[0]

    assert message["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["headers"]["List-Unsubscribe"].startswith("<http://127.0.0.1:")


def test_the_same_idempotency_key_sends_no_second_newsletter(resent: list[dict]):
    assert len(mails(resent, "newsletter-demo", "p-quiet")) == 1


def test_a_click_redirects_without_following_to_the_link_target(clicks: dict):
    statuses = {r.status for r in clicks["responses"]}

    assert statuses == {302}
    assert all(r.location and r.location.startswith("http") for r in clicks["responses"])
    assert not any(r.location.startswith(clicks["travel_link"].rsplit("/r/", 1)[0]) for r in clicks["responses"])


def test_three_clicks_count_exactly_three_on_the_matching_interest(clicks: dict):
    assert clicks["after"]["p-travel"]["interests"].get("travel") == 3
    assert clicks["after"]["p-cars"]["interests"].get("cars") == 3
    assert "cars" not in clicks["after"]["p-travel"]["interests"]


def test_a_click_moves_last_activity_to_the_runtime_clock(clicks: dict):
    # The runtime clock keeps running after it is set, so allow the seconds the clicks took.
    moved = datetime.fromisoformat(clicks["after"]["p-travel"]["last_activity_at"].replace("Z", "+00:00"))

    assert timedelta(0) <= moved - datetime.fromisoformat(CLICK_TIME.replace("Z", "+00:00")) < timedelta(minutes=1)
    assert clicks["before"]["p-travel"]["last_activity_at"] is None


def test_crossing_the_threshold_sends_each_offer_once_to_the_right_person(clicks: dict):
    outbox = clicks["outbox"]

    assert [m["to"] for m in mails(outbox, "travel-offers")] == [[email("p-travel")]]
    assert [m["to"] for m in mails(outbox, "car-offers")] == [[email("p-cars")]]


def test_a_tampered_token_gets_404_without_location(clicks: dict):
    assert clicks["tampered"].status == 404
    assert clicks["tampered"].location is None


def test_clicks_beyond_the_threshold_count_but_send_no_second_offer(birthdays: dict):
    assert birthdays["late_click"].status == 302
    assert birthdays["ada"]["interests"]["travel"] == 4
    assert len(mails(birthdays["after_second"], "travel-offers")) == 1


def test_birthday_mail_goes_to_those_born_on_the_day_incl_29_february(birthdays: dict):
    sent = mails(birthdays["after_first"], "birthday")

    assert sorted(m["to"][0] for m in sent) == [email("p-leap"), email("p-travel")]


def test_running_the_birthday_check_twice_sends_nothing_new(birthdays: dict):
    assert len(mails(birthdays["after_second"], "birthday")) == len(mails(birthdays["after_first"], "birthday")) == 2


def test_we_miss_you_reaches_the_silent_but_not_the_recently_active(silence: dict):
    sent = mails(silence["after_first"], "we-miss-you")

    assert sorted(m["to"][0] for m in sent) == sorted(email(p) for p in ("p-cars", "p-leap", "p-quiet"))


def test_running_we_miss_you_twice_sends_nothing_new(silence: dict):
    assert len(mails(silence["after_second"], "we-miss-you")) == 3
