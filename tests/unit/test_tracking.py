import pytest

from closedloop import events, tracking
from closedloop.errors import InvalidInput, InvalidToken
from closedloop.ports import Activity, Link
from closedloop.tokens import ClickToken
from tests.fakes import FakeLinkSets, FakeProfiles, FakeReactionQueue, FlakyProfiles

LINK_SET = "aaaaaaaaaaaaaaaaaaaa"


def a_click(profile_id, now, counter="travel", activity_id="c1"):
    details = {"message_id": "m1", "link_set": LINK_SET, "link": 0}
    return Activity("click", activity_id, profile_id, now, increments={counter: 1}, details=details)


def an_open(profile_id, now):
    return Activity("open", "m1", profile_id, now, details={"message_id": "m1"}, moves_last_activity=False)


@pytest.fixture
def profiles():
    store = FakeProfiles()
    store.add("p-ada")
    return store


def test_resolving_a_click_finds_the_link_the_sender_stored(signer):
    link_sets = FakeLinkSets()
    link_sets.put(LINK_SET, [Link("https://a.example", {}), Link("https://b.example", {"interest": "cars"})])
    click = tracking.resolve_click(signer.click(ClickToken("m1", "p-ada", LINK_SET, 1)), signer, link_sets)
    assert click.link.url == "https://b.example"


def test_a_valid_token_for_a_link_number_that_does_not_exist_is_refused(signer):
    link_sets = FakeLinkSets()
    link_sets.put(LINK_SET, [Link("https://a.example", {})])
    with pytest.raises(InvalidToken):
        tracking.resolve_click(signer.click(ClickToken("m1", "p-ada", LINK_SET, 5)), signer, link_sets)


def test_a_click_adds_its_interest_and_moves_last_activity(profiles, config, now):
    tracking.record(a_click("p-ada", now), profiles, config)
    assert profiles.get("p-ada").interests == {"travel": 1}
    assert profiles.get("p-ada").last_activity_at == "2026-11-22T10:00:00Z"


def test_the_same_click_recorded_twice_counts_once(profiles, config, now):
    click = a_click("p-ada", now, activity_id="same")
    assert tracking.record(click, profiles, config) is True
    assert tracking.record(click, profiles, config) is False
    assert profiles.get("p-ada").interests == {"travel": 1}


def test_an_open_does_not_count_as_activity(profiles, config, now):
    activity = Activity("open", "m1", "p-ada", now, moves_last_activity=False)
    tracking.record(activity, profiles, config)
    assert profiles.get("p-ada").last_activity_at is None


def test_an_open_whose_recording_fails_is_handed_to_the_reactions_queue(config, now):
    profiles, queue = FlakyProfiles(failures=1), FakeReactionQueue()
    profiles.add("p-ada")
    opened = an_open("p-ada", now)
    recording = tracking.record_or_defer(opened, profiles, config, queue)
    assert (recording, queue.messages) == (("deferred", "ConnectionError"), [("record", opened, 0)])


def test_when_both_recording_and_the_queue_fail_the_outcome_says_lost_and_nothing_raises(config, now):
    profiles = FlakyProfiles(failures=1)
    profiles.add("p-ada")
    recording = tracking.record_or_defer(an_open("p-ada", now), profiles, config, FakeReactionQueue(broken=True))
    assert recording == ("lost", "ConnectionError; then the reactions queue: ConnectionError")


def test_an_open_for_a_deleted_profile_records_nothing(config, now):
    queue = FakeReactionQueue()
    recording = tracking.record_or_defer(an_open("p-gone", now), FakeProfiles(), config, queue)
    assert (recording.outcome, queue.items) == ("no_profile", [])


def test_an_activity_survives_the_trip_through_the_queue_unchanged(now):
    click = Activity("click", "c1", "p-ada", now, {"travel": 1}, {"message_id": "m1"}, bot_reason="head")
    assert Activity.from_dict(click.to_dict()) == click


@pytest.mark.parametrize(
    "body, words",
    [
        ({"profile_id": "p-ada", "type": "purchase", "event_id": 0}, "event_id"),
        ({"profile_id": "p-ada", "type": "purchase", "event_id": ""}, "event_id"),
        ({"profile_id": "p-ada", "type": "purchase", "event_id": False}, "event_id"),
        ({"profile_id": "p-ada", "type": "purchase", "occurred_at": "0001-01-01T00:00:00+14:00"}, "occurred_at"),
        ({"profile_id": "p-ada", "type": "purchase", "occurred_at": "1999-12-31T23:59:59Z"}, "occurred_at"),
        ({"profile_id": "p-ada", "type": "purchase", "occurred_at": "2026-11-22T10:00:00"}, "occurred_at"),
        ({"profile_id": "p-ada", "type": "Purchase!"}, "type"),
        ({"profile_id": "p-ada"}, "missing"),
    ],
)
def test_bad_events_are_refused_before_anything_is_recorded(body, words, now):
    with pytest.raises(InvalidInput, match=words):
        events.event_activity(body, now)


def test_an_event_without_an_id_gets_a_fresh_one_and_one_with_an_id_keeps_it(now):
    given = events.event_activity({"profile_id": "p-ada", "type": "purchase", "event_id": "order-17"}, now)
    fresh = events.event_activity({"profile_id": "p-ada", "type": "purchase"}, now)
    assert given.activity_id == "order-17" and fresh.activity_id not in ("", "order-17")
