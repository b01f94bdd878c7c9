from datetime import UTC, datetime, timedelta

import pytest

from closedloop import profiles as profile_rules
from closedloop.schedules import run_birthday_check, run_we_miss_you_check
from tests.fakes import FakeProfiles, FakeSendQueue

UTC = UTC


def upsert(profiles, config, now, profile_id, birthday=None, zone="Europe/Berlin", status="subscribed"):
    attributes = {"first_name": "X", "timezone": zone, **({"birthday": birthday} if birthday else {})}
    body = {"email": f"{profile_id}@example.net", "status": status, "attributes": attributes}
    profile_rules.upsert(profiles, profile_rules.parse_profile_write(profile_id, body, now), config, now)


@pytest.fixture
def created():
    return datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_the_birthday_check_sends_only_to_profiles_whose_local_morning_has_come(config, created):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    upsert(profiles, config, created, "p-tokyo", "1990-03-10", "Asia/Tokyo")  # due 2026-03-10T00:00Z
    upsert(profiles, config, created, "p-berlin", "1990-03-10", "Europe/Berlin")  # due 2026-03-10T08:00Z
    upsert(profiles, config, created, "p-other", "1990-07-01")
    report = run_birthday_check(profiles, queue, config, datetime(2026, 3, 10, 3, tzinfo=UTC))
    assert [r.profile_id for r in queue.requests] == ["p-tokyo"]
    assert report.due == 1


def test_a_birthday_check_run_twice_sends_once(config, created):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    upsert(profiles, config, created, "p-1", "1990-03-10")
    at = datetime(2026, 3, 10, 9, tzinfo=UTC)
    run_birthday_check(profiles, queue, config, at)
    second = run_birthday_check(profiles, queue, config, at + timedelta(minutes=5))
    assert (len(queue.requests), second.due) == (1, 0)


def test_a_missed_birthday_run_is_caught_up_by_the_next_one(config, created):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    upsert(profiles, config, created, "p-1", "1990-03-10")
    run_birthday_check(profiles, queue, config, datetime(2026, 3, 12, 6, tzinfo=UTC))  # two days of outage
    assert [r.send_key for r in queue.requests] == ["birthday#2026#p-1"]


def test_a_birthday_more_than_the_catch_up_window_late_is_skipped_and_moved_to_next_year(config, created):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    upsert(profiles, config, created, "p-1", "1990-03-10")
    report = run_birthday_check(profiles, queue, config, datetime(2026, 3, 20, tzinfo=UTC))
    assert (queue.requests, report.skipped_late) == ([], 1)
    assert profiles.items["p-1"]["birthday"].startswith("2027-03-10T08:00:00Z")


def test_after_sending_the_birthday_entry_moves_to_next_years_morning(config, created):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    upsert(profiles, config, created, "p-leap", "2000-02-29", "Europe/Berlin")
    assert profiles.items["p-leap"]["birthday"].startswith("2027-02-28T08:00:00Z")
    run_birthday_check(profiles, queue, config, datetime(2027, 2, 28, 9, tzinfo=UTC))
    assert profiles.items["p-leap"]["birthday"] == "2028-02-29T08:00:00Z#02-29#Europe/Berlin"


def test_we_miss_you_goes_to_profiles_silent_for_the_configured_days_once_per_period(config, created):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    upsert(profiles, config, created, "p-silent")
    upsert(profiles, config, created + timedelta(days=30), "p-new")
    at = created + timedelta(days=61)
    run_we_miss_you_check(profiles, queue, config, at)
    run_we_miss_you_check(profiles, queue, config, at + timedelta(hours=1))
    assert [r.profile_id for r in queue.requests] == ["p-silent"]
    assert queue.requests[0].context == {"inactive_days": 60}


def test_unsubscribed_profiles_get_no_scheduled_mail(config, created):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    upsert(profiles, config, created, "p-1", "1990-03-10", status="unsubscribed")
    run_birthday_check(profiles, queue, config, datetime(2026, 3, 10, 12, tzinfo=UTC))
    run_we_miss_you_check(profiles, queue, config, created + timedelta(days=90))
    assert queue.requests == []


def test_a_check_out_of_time_stops_and_leaves_the_rest_due(config, created):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    for n in range(25):
        upsert(profiles, config, created, f"p-{n:02}")
    report = run_we_miss_you_check(profiles, queue, config, created + timedelta(days=61), out_of_time=lambda: True)
    assert (report.enqueued, report.complete) == (10, False)
    rest = run_we_miss_you_check(profiles, queue, config, created + timedelta(days=61))
    assert rest.enqueued == 15


def test_a_zone_corrected_after_the_birthday_mail_went_out_does_not_send_a_second_one(config, created):
    profiles, queue = FakeProfiles(), FakeSendQueue()
    upsert(profiles, config, created, "p-1", "1990-03-10", "Asia/Tokyo")  # due 2026-03-10T00:00Z
    run_birthday_check(profiles, queue, config, datetime(2026, 3, 10, 1, tzinfo=UTC))
    upsert(profiles, config, datetime(2026, 3, 10, 2, tzinfo=UTC), "p-1", "1990-03-10", "America/Los_Angeles")
    run_birthday_check(profiles, queue, config, datetime(2026, 3, 10, 18, tzinfo=UTC))  # 10:00 in Los Angeles
    keys = [r.send_key for r in queue.requests]
    assert keys == ["birthday#2026#p-1", "birthday#2026#p-1"]  # the second request meets the first's ledger key
