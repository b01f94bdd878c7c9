"""Bot-proof clicks: what marks a click as a machine's at the door, and after the settle window."""

from datetime import timedelta

import pytest

from closedloop import tracking
from closedloop.config import BotsConfig
from closedloop.ports import Activity
from closedloop.values import ClickRecord, Link
from tests.fakes import FakeProfiles, FakeReactionQueue

BOTS = BotsConfig()
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"


@pytest.mark.parametrize(
    "method, agent, reason",
    [
        ("HEAD", BROWSER, "head"),
        ("GET", "python-requests/2.32.3", "user_agent"),
        ("GET", "Mozilla/5.0 (compatible; Barracuda Sentinel)", "user_agent"),
        ("GET", "curl/8.5.0", "user_agent"),
        ("GET", "", "user_agent"),
        ("GET", None, "user_agent"),
        ("GET", BROWSER, None),
    ],
)
def test_the_door_names_what_marks_a_request_as_a_machines(method, agent, reason):
    assert tracking.door_verdict(method, agent, BOTS) == reason


def test_the_honeypot_link_is_a_machines_whatever_the_agent():
    assert tracking.door_verdict("GET", BROWSER, BOTS, Link("https://example.com/", {"honeypot": True})) == "honeypot"
    assert tracking.door_verdict("GET", BROWSER, BOTS, Link("https://example.com/", {"interest": "cars"})) is None


def clicks(now, *spec):
    """(seconds after now, link number, door reason) -> records with ids c0, c1, ..."""
    return [
        ClickRecord(f"c{n}", now + timedelta(seconds=at), link, reason) for n, (at, link, reason) in enumerate(spec)
    ]


def verdicts(records):
    return [tracking.bot_verdict(record, records, BOTS) for record in records]


def test_three_distinct_links_within_ten_seconds_are_a_burst_the_first_clicks_included(now):
    assert verdicts(clicks(now, (0, 0, None), (2, 1, None), (9, 2, None))) == ["burst"] * 3


def test_a_person_clicking_one_link_again_and_again_counts_each_time(now):
    assert verdicts(clicks(now, (0, 0, None), (1, 0, None), (2, 0, None), (3, 0, None))) == [None] * 4


def test_two_links_within_ten_seconds_are_a_person_reading_on(now):
    assert verdicts(clicks(now, (0, 0, None), (4, 1, None))) == [None, None]


def test_a_person_coming_back_after_a_scanners_sweep_counts(now):
    swept = clicks(now, (0, 0, None), (0, 1, None), (1, 2, "honeypot"), (1, 3, None), (600, 1, None))
    assert verdicts(swept) == ["sweep", "sweep", "honeypot", "sweep", None]


def test_the_window_slides_so_a_burst_is_found_wherever_it_starts(now):
    # A person clicks at 0; a scanner sweeps three links at 30-32 s: only the scanner's clicks are a burst.
    assert verdicts(clicks(now, (0, 0, None), (30, 0, None), (31, 1, None), (32, 2, None))) == [
        None,
        "burst",
        "burst",
        "burst",
    ]


def test_a_click_next_to_a_head_request_is_the_same_sweep(now):
    assert verdicts(clicks(now, (0, 0, "head"), (1, 0, None), (12, 0, None))) == ["head", "sweep", None]


def a_click(now, link=0, activity_id="c1", message_id="m1", bot_reason=None):
    details = {"message_id": message_id, "link_set": "s", "link": link}
    return Activity("click", activity_id, "p-ada", now, {"travel": 1}, details, bot_reason=bot_reason)


@pytest.fixture
def profiles():
    store = FakeProfiles()
    store.add("p-ada")
    return store


def test_a_stored_click_moves_nothing_until_it_settles_as_a_persons(profiles, config, now):
    queue = FakeReactionQueue()
    click = a_click(now)
    assert tracking.record_click(click, profiles, config, queue) is True
    assert profiles.get("p-ada").interests == {}
    assert queue.messages == [("settle", click, config.bots.settle_seconds)]
    assert tracking.settle_click(click, profiles, config) == "human"
    assert profiles.get("p-ada").interests == {"travel": 1}
    assert profiles.get("p-ada").last_activity_at == "2026-11-22T10:00:00Z"


def test_a_redelivered_click_is_stored_once_and_settles_once(profiles, config, now):
    queue = FakeReactionQueue()
    click = a_click(now)
    assert tracking.record_click(click, profiles, config, queue) is True
    assert tracking.record_click(click, profiles, config, queue) is False
    assert len(queue.messages) == 2  # asked again: the first delivery may have died before asking
    assert [tracking.settle_click(click, profiles, config) for _ in range(2)] == ["human", "settled_before"]
    assert profiles.get("p-ada").interests == {"travel": 1}


def test_a_click_a_machine_made_at_the_door_is_stored_and_never_settles(profiles, config, now):
    queue = FakeReactionQueue()
    click = a_click(now, bot_reason="user_agent")
    tracking.record_click(click, profiles, config, queue)
    assert queue.messages == [] and profiles.verdict("p-ada", click) == "bot"


def test_a_scanners_burst_moves_nothing_and_a_person_later_counts(profiles, config, now):
    queue = FakeReactionQueue()
    burst = [a_click(now + timedelta(seconds=n), link=n, activity_id=f"s{n}") for n in range(4)]
    for click in burst:
        tracking.record_click(click, profiles, config, queue)
    assert [tracking.settle_click(click, profiles, config) for click in burst] == ["bot_burst"] * 4
    assert profiles.get("p-ada").interests == {} and profiles.get("p-ada").last_activity_at is None
    later = a_click(now + timedelta(minutes=5), link=1, activity_id="person")
    tracking.record_click(later, profiles, config, queue)
    assert tracking.settle_click(later, profiles, config) == "human"
    assert profiles.get("p-ada").interests == {"travel": 1}


def test_a_click_for_a_deleted_profile_settles_as_no_profile(config, now):
    store, queue = FakeProfiles(), FakeReactionQueue()
    click = a_click(now)
    tracking.record_click(click, store, config, queue)
    assert tracking.settle_click(click, store, config) == "no_profile"


def test_a_click_the_queue_cannot_take_is_lost_and_says_why(now):
    assert tracking.queue_click(a_click(now), FakeReactionQueue(broken=True)) == ("lost", "ConnectionError")
    queue = FakeReactionQueue()
    assert tracking.queue_click(a_click(now), queue).outcome == "queued" and queue.messages[0][0] == "record"
