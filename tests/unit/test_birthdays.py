from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from closedloop.birthdays import (
    birthday_in,
    birthday_morning,
    index_key,
    next_birthday_morning,
    parse_index_key,
    upcoming_birthday_morning,
)

UTC = UTC
BERLIN, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo")


def test_the_birthday_mail_is_due_at_nine_in_the_profiles_own_zone():
    assert birthday_morning(2026, date(1990, 6, 15), BERLIN, 9) == datetime(2026, 6, 15, 7, 0, tzinfo=UTC)
    assert birthday_morning(2026, date(1990, 6, 15), TOKYO, 9) == datetime(2026, 6, 15, 0, 0, tzinfo=UTC)


def test_a_29_february_birthday_is_celebrated_on_28_february_in_common_years():
    assert birthday_in(2027, date(2000, 2, 29)) == date(2027, 2, 28)
    assert birthday_in(2028, date(2000, 2, 29)) == date(2028, 2, 29)


def test_the_next_morning_is_this_years_when_it_has_not_come_yet():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert next_birthday_morning(date(1990, 6, 15), BERLIN, 9, now, timedelta(days=3)).date() == date(2026, 6, 15)


def test_a_morning_missed_by_less_than_the_catch_up_window_is_still_due():
    now = datetime(2026, 6, 16, 12, tzinfo=UTC)
    morning = next_birthday_morning(date(1990, 6, 15), BERLIN, 9, now, timedelta(days=3))
    assert morning == datetime(2026, 6, 15, 7, tzinfo=UTC)


def test_a_morning_missed_by_more_than_the_catch_up_window_moves_to_next_year():
    now = datetime(2026, 6, 25, tzinfo=UTC)
    assert next_birthday_morning(date(1990, 6, 15), BERLIN, 9, now, timedelta(days=3)).year == 2027


def test_an_index_key_carries_what_is_needed_to_compute_next_year():
    key = index_key(datetime(2027, 2, 28, 8, tzinfo=UTC), date(2000, 2, 29), "Europe/Berlin")
    assert key == "2027-02-28T08:00:00Z#02-29#Europe/Berlin"
    due, birthday, zone = parse_index_key(key)
    assert (due, birthday.month, birthday.day, zone.key) == (
        datetime(2027, 2, 28, 8, tzinfo=UTC),
        2,
        29,
        "Europe/Berlin",
    )


def test_a_profile_written_the_day_after_its_birthday_is_due_next_year():
    now = datetime(2026, 6, 16, 1, tzinfo=UTC)
    assert upcoming_birthday_morning(date(1990, 6, 15), BERLIN, 9, now).year == 2027


def test_a_profile_written_on_its_birthday_evening_is_due_today():
    now = datetime(2026, 6, 15, 20, tzinfo=UTC)  # 22:00 in Berlin
    assert upcoming_birthday_morning(date(1990, 6, 15), BERLIN, 9, now) == datetime(2026, 6, 15, 7, tzinfo=UTC)
