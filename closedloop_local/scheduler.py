"""EventBridge Scheduler, locally: run a wiring schedule on demand, or let a ticker fire each one on the runtime clock.

The ticker follows the runtime clock, not the wall clock: when the clock is moved forward past a fire time the
schedule fires once (no storm of missed runs); moved backwards, the next fire time is computed afresh.
Expressions: rate(N minute|hour|day[s]) and AWS's six-field cron (minutes hours day-of-month month day-of-week
year, with ? and names; L, W and # are not supported).
"""

from __future__ import annotations

import re
import sys
import threading
import traceback
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from infra import wiring

TICK_S = 1.0
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m: i + 1 for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split())}
_DAYS = {d: i + 1 for i, d in enumerate("SUN MON TUE WED THU FRI SAT".split())}  # AWS: 1 = Sunday


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a cron field allows; None for '*' or '?' (anything)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        part, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if part == "*":
            start, end = low, high
        else:
            first, _, last = part.partition("-")
            start = _value(first, names)
            end = _value(last, names) if last else (high if step_text else start)
        if not (low <= start <= high and low <= end <= high):
            raise ValueError(f"cron field {text!r} out of range {low}-{high}")
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ValueError(f"unsupported cron value {text!r} (L, W and # are not supported locally)")
    return int(text)


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    """The first fire time strictly after `after` (aware datetimes in and out)."""
    rate = _RATE.match(expression)
    if rate:
        unit = rate.group(2).rstrip("s")
        return after + timedelta(seconds=int(rate.group(1)) * _UNITS[unit])
    cron = _CRON.match(expression)
    if not cron:
        raise ValueError(f"unsupported schedule expression {expression!r}")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ValueError(f"AWS cron needs six fields: {expression!r}")
    minutes = _field(fields[0], 0, 59) or set(range(60))
    hours = _field(fields[1], 0, 23) or set(range(24))
    days = _field(fields[2], 1, 31)
    months = _field(fields[3], 1, 12, _MONTHS)
    weekdays = _field(fields[4], 1, 7, _DAYS)
    years = _field(fields[5], 1970, 2199)
    zone = ZoneInfo(timezone)
    local = after.astimezone(zone)
    day = local.date()
    for _ in range(366 * 8):
        aws_weekday = day.isoweekday() % 7 + 1  # Sunday -> 1 ... Saturday -> 7
        if (
            (months is None or day.month in months)
            and (years is None or day.year in years)
            and (days is None or day.day in days)
            and (weekdays is None or aws_weekday in weekdays)
        ):
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if candidate > local:
                        return candidate
        day += timedelta(days=1)
    raise ValueError(f"{expression!r} never fires")


class UnknownSchedule(KeyError):
    pass


_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def fire_one_time(now: datetime, sqs: Any) -> int:
    """Fire every one-time schedule (`at(...)`, in moto's Scheduler backend) whose instant has come on the runtime
    clock: put its input on its target queue, as EventBridge Scheduler's SQS target does, then delete it
    (ActionAfterCompletion DELETE). How many fired."""
    from moto.scheduler.models import scheduler_backends

    from .aws import ACCOUNT_ID, REGION

    backend = scheduler_backends[ACCOUNT_ID][REGION]
    fired = 0
    for group in list(backend.schedule_groups.values()):
        for schedule in list(group.schedules.values()):
            match = _AT.match(schedule.schedule_expression or "")
            if not match:
                continue
            zone = ZoneInfo(schedule.schedule_expression_timezone or "UTC")
            if datetime.fromisoformat(match.group(1)).replace(tzinfo=zone) > now:
                continue
            target = schedule.target
            queue_name = target["Arn"].rsplit(":", 1)[-1]
            url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=target.get("Input") or "{}")
            group.schedules.pop(schedule.name, None)
            fired += 1
    return fired


class Scheduler:
    def __init__(self, clock: Any, invoker: Any, schedules: dict[str, wiring.Function] | None = None) -> None:
        self._clock = clock
        self._invoker = invoker
        self.schedules = schedules if schedules is not None else wiring.schedules()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired: list[tuple[str, datetime]] = []
        self.sqs: Any = None  # set by the runtime: one-time schedules put their input on a queue

    def fire_due(self) -> int:
        """Fire the one-time schedules due on the runtime clock (the drain does this before delivering)."""
        return fire_one_time(self._clock.now(), self.sqs) if self.sqs is not None else 0

    def run(self, name: str) -> Any:
        """Run schedule `name` once now, as EventBridge Scheduler would; the handler's return value."""
        function = self.schedules.get(name)
        if function is None:
            raise UnknownSchedule(name)
        self.fired.append((name, self._clock.now()))
        return self._invoker.invoke(function, {"schedule": name})

    # --- ticker -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._tick_forever, name="scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)

    def _next(self, function: wiring.Function, after: datetime) -> datetime:
        return next_fire(function.schedule.expression, function.schedule.timezone, after)

    def _tick_forever(self) -> None:
        last = self._clock.now()
        due = {name: self._next(f, last) for name, f in self.schedules.items()}
        while not self._stop.wait(TICK_S):
            now = self._clock.now()
            if self.sqs is not None:
                try:
                    fire_one_time(now, self.sqs)
                except Exception:  # a failing run must not stop the ticker
                    traceback.print_exc()
            for name, function in self.schedules.items():
                if now < last:  # the clock was moved back: plan from the new present
                    due[name] = self._next(function, now)
                if now >= due[name]:
                    try:
                        result = self.run(name)
                        print(f"[scheduler] {name} fired at {now.isoformat()}: {result}", file=sys.stderr)
                    except Exception:  # a failing run must not stop the ticker
                        traceback.print_exc()
                    due[name] = self._next(function, now)
            last = now
