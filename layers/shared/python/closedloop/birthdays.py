"""When is somebody's next birthday morning, as an instant? (Their own time zone; 29 February handled.)"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def birthday_in(year: int, birthday: date) -> date:
    """The day someone celebrates in `year`: 29 February falls back to 28 February in common years."""
    if birthday.month == 2 and birthday.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return birthday.replace(year=year)


def birthday_morning(year: int, birthday: date, zone: ZoneInfo, local_hour: int) -> datetime:
    """The UTC instant of `local_hour` o'clock on the birthday in `year`, in the profile's zone."""
    local = datetime.combine(birthday_in(year, birthday), time(local_hour), tzinfo=zone)
    return local.astimezone(UTC)


def next_birthday_morning(
    birthday: date, zone: ZoneInfo, local_hour: int, now: datetime, catch_up: timedelta
) -> datetime:
    """The first birthday morning that is not yet more than `catch_up` in the past.

    A birthday whose morning passed less than `catch_up` ago is still due (a missed scheduler run is caught up);
    one further back is skipped for that year.
    """
    local_year = now.astimezone(zone).year
    for year in (local_year - 1, local_year, local_year + 1):
        morning = birthday_morning(year, birthday, zone, local_hour)
        if morning > now - catch_up:
            return morning
    return birthday_morning(local_year + 2, birthday, zone, local_hour)


def upcoming_birthday_morning(birthday: date, zone: ZoneInfo, local_hour: int, now: datetime) -> datetime:
    """The morning of the next birthday that is today or later in the profile's own calendar.

    For a profile written now: a birthday that was yesterday is a year away, one that is today is due today.
    """
    today = now.astimezone(zone).date()
    year = today.year if birthday_in(today.year, birthday) >= today else today.year + 1
    return birthday_morning(year, birthday, zone, local_hour)


def index_key(morning: datetime, birthday: date, zone: str) -> str:
    """Sort key of a birthday entry in the due index: the due instant first (so `<= now` finds it), then what the
    check needs to compute next year's morning without reading the profile: month-day and zone."""
    return f"{morning.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}#{birthday:%m-%d}#{zone}"


def parse_index_key(key: str) -> tuple[datetime, date, ZoneInfo]:
    due, month_day, zone = key.split("#", 2)
    # 2000 is a leap year, so 02-29 parses; the year plays no part in what follows.
    return datetime.fromisoformat(due.replace("Z", "+00:00")), date.fromisoformat(f"2000-{month_day}"), ZoneInfo(zone)
