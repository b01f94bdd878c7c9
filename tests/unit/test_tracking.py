import threading
from datetime import timedelta

import pytest

from closedloop import tracking
from closedloop.errors import InvalidToken
from closedloop.ports import Activity, Link
from closedloop.tokens import ClickToken
from tests.fakes import FakeActivityQueue, FakeLedger, FakeProfiles, FakePublisher, FlakyProfiles

LINK_SET = "aaaaaaaaaaaaaaaaaaaa"


def a_click(profile_id, now, counter="travel", activity_id=None):
    activity = Activity("click", activity_id or f"c-{now.timestamp()}-{threading.get_ident()}", profile_id, now,
                        increments={counter: 1})
    return activity


@pytest.fixture
def world():
    profiles, ledger, publisher = FakeProfiles(), FakeLedger(), FakePublisher()
    profiles.add("p-ada")
    return profiles, ledger, publisher


def test_resolving_a_click_finds_the_link_the_sender_stored(signer):
    ledger = FakeLedger()
    ledger.put_link_set(LINK_SET, [Link("https://a.example", {}), Link("https://b.example", {"interest": "cars"})])
    click = tracking.resolve_click(signer.click(ClickToken("m1", "p-ada", LINK_SET, 1)), signer, ledger)
    assert click.link.url == "https://b.example"


def test_a_valid_token_for_a_link_number_that_does_not_exist_is_refused(signer):
    ledger = FakeLedger()
    ledger.put_link_set(LINK_SET, [Link("https://a.example", {})])
    with pytest.raises(InvalidToken):
        tracking.resolve_click(signer.click(ClickToken("m1", "p-ada", LINK_SET, 5)), signer, ledger)


def test_a_click_adds_its_interest_and_moves_last_activity(world, config, now):
    profiles, ledger, publisher = world
    tracking.record(a_click("p-ada", now), profiles, ledger, publisher, config, now)
    assert profiles.get("p-ada").interests == {"travel": 1}
    assert profiles.get("p-ada").last_activity_at == "2026-11-22T10:00:00Z"


def test_the_same_click_recorded_twice_counts_once(world, config, now):
    profiles, ledger, publisher = world
    click = a_click("p-ada", now, activity_id="same")
    assert tracking.record(click, profiles, ledger, publisher, config, now) is True
    assert tracking.record(click, profiles, ledger, publisher, config, now) is False
    assert profiles.get("p-ada").interests == {"travel": 1}


def test_an_open_does_not_count_as_activity(world, config, now):
    profiles, ledger, publisher = world
    activity = Activity("open", "m1", "p-ada", now, moves_last_activity=False)
    tracking.record(activity, profiles, ledger, publisher, config, now)
    assert profiles.get("p-ada").last_activity_at is None


def test_reaching_the_threshold_fires_the_rule_once(world, config, now):
    profiles, ledger, publisher = world
    for n in range(5):
        tracking.record(a_click("p-ada", now, activity_id=f"c{n}"), profiles, ledger, publisher, config, now)
    assert [(kind, detail["rule_id"], detail["value"]) for kind, detail in publisher.events] == [
        ("threshold.crossed", "travel-offers", 3)]


def test_concurrent_clicks_count_exactly_and_fire_once(world, config, now):
    profiles, ledger, publisher = world
    threads = [threading.Thread(target=tracking.record, args=(
        a_click("p-ada", now, activity_id=f"c{n}"), profiles, ledger, publisher, config, now)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert profiles.get("p-ada").interests == {"travel": 40}
    assert len(publisher.events) == 1


def test_a_crossing_whose_event_failed_is_published_by_the_retry(world, config, now):
    profiles, ledger, publisher = world
    for n in range(2):
        tracking.record(a_click("p-ada", now, activity_id=f"c{n}"), profiles, ledger, publisher, config, now)
    publisher.failures = 1
    third = a_click("p-ada", now, activity_id="c2")
    with pytest.raises(ConnectionError):
        tracking.record(third, profiles, ledger, publisher, config, now)
    later = now + timedelta(minutes=5)
    tracking.record(third, profiles, ledger, publisher, config, later)  # the retry of the same click
    assert len(publisher.events) == 1 and profiles.get("p-ada").interests == {"travel": 3}


def test_a_click_whose_recording_fails_is_handed_to_the_retry_queue(config, now):
    profiles, queue = FlakyProfiles(failures=1), FakeActivityQueue()
    profiles.add("p-ada")
    click = a_click("p-ada", now)
    outcome = tracking.record_or_defer(click, profiles, FakeLedger(), FakePublisher(), config, queue, now)
    assert (outcome, queue.items) == ("deferred", [click])


def test_when_both_recording_and_the_queue_fail_the_outcome_says_lost_and_nothing_raises(config, now):
    profiles = FlakyProfiles(failures=1)
    profiles.add("p-ada")
    outcome = tracking.record_or_defer(a_click("p-ada", now), profiles, FakeLedger(), FakePublisher(), config,
                                       FakeActivityQueue(broken=True), now)
    assert outcome == "lost"


def test_a_click_for_a_deleted_profile_records_nothing(config, now):
    queue = FakeActivityQueue()
    outcome = tracking.record_or_defer(a_click("p-gone", now), FakeProfiles(), FakeLedger(), FakePublisher(),
                                       config, queue, now)
    assert (outcome, queue.items) == ("no_profile", [])


def test_an_activity_survives_the_trip_through_the_queue_unchanged(now):
    click = Activity("click", "c1", "p-ada", now, {"travel": 1}, {"message_id": "m1"})
    assert Activity.from_dict(click.to_dict()) == click
