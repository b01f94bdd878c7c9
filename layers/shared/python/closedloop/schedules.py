"""The scheduled checks: birthday (hourly) and we-miss-you (daily).

Both read only due profiles from the sparse, sharded indexes (closedloop.due), enqueue one send request per
profile, then move the profile's entry on: next year's birthday morning, or out of the idle index until the next
activity. The business key of each mail names the occasion (`birthday#<year>#p1`, `we-miss-you#<due>#p1`); why
that makes a check safe to run twice or to fail half-way: ARCHITECTURE.md, "Scheduled checks read only what is due".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from closedloop.birthdays import index_key, next_birthday_morning, parse_index_key
from closedloop.clock import isoformat
from closedloop.config import Config
from closedloop.ports import DueEntry, ProfileStore, SendQueue
from closedloop.sending import SendRequest

BATCH = 10  # SQS SendMessageBatch limit


@dataclass
class CheckReport:
    check: str
    due: int = 0
    enqueued: int = 0
    skipped_late: int = 0
    complete: bool = True

    def summary(self) -> dict:
        return dict(self.__dict__)


def now_key(now: datetime) -> str:
    """Upper bound for `sort key <= now_key`: '~' sorts after '#', so every entry due at or before now matches."""
    return isoformat(now) + "~"


def run_birthday_check(
    profiles: ProfileStore,
    queue: SendQueue,
    config: Config,
    now: datetime,
    out_of_time: Callable[[], bool] = lambda: False,
) -> CheckReport:
    report = CheckReport("birthday")
    catch_up = timedelta(days=config.birthday.catch_up_days)

    def next_key(entry: DueEntry) -> str:
        due_at, birthday, zone = parse_index_key(entry.due_key)
        # The first morning after this one that is not already too late to celebrate.
        morning = next_birthday_morning(
            birthday, zone, config.birthday.local_hour, max(due_at, now - catch_up), timedelta(0)
        )
        return index_key(morning, birthday, zone.key)

    def request_for(entry: DueEntry) -> SendRequest | None:
        due_at, _, zone = parse_index_key(entry.due_key)
        if now - due_at > catch_up:
            report.skipped_late += 1
            return None
        return SendRequest(
            send_key=birthday_send_key(due_at.astimezone(zone).year, entry.profile_id),
            profile_id=entry.profile_id,
            template=config.birthday.template,
            capped=config.birthday.capped,
        )

    return _run(report, "birthday", profiles, queue, now, request_for, next_key, out_of_time)


def birthday_send_key(year: int, profile_id: str) -> str:
    """One birthday mail per person and year: a corrected zone or date the same year does not congratulate twice."""
    return f"birthday#{year}#{profile_id}"


def run_we_miss_you_check(
    profiles: ProfileStore,
    queue: SendQueue,
    config: Config,
    now: datetime,
    out_of_time: Callable[[], bool] = lambda: False,
) -> CheckReport:
    report = CheckReport("we-miss-you")

    def request_for(entry: DueEntry) -> SendRequest:
        return SendRequest(
            send_key=f"we-miss-you#{entry.due_key}#{entry.profile_id}",
            profile_id=entry.profile_id,
            template=config.we_miss_you.template,
            context={"inactive_days": config.we_miss_you.inactive_days},
            capped=config.we_miss_you.capped,
        )

    # Once per inactivity period: the entry leaves the index and only the next activity puts it back.
    return _run(report, "idle", profiles, queue, now, request_for, lambda entry: None, out_of_time)


def _run(
    report: CheckReport,
    index: str,
    profiles: ProfileStore,
    queue: SendQueue,
    now: datetime,
    request_for: Callable[[DueEntry], SendRequest | None],
    next_key: Callable[[DueEntry], str | None],
    out_of_time: Callable[[], bool],
) -> CheckReport:
    batch: list[tuple[DueEntry, SendRequest | None]] = []

    def flush() -> None:
        requests = [request for _, request in batch if request]
        if requests:
            queue.enqueue(requests)  # first enqueue, then move on: a failure in between only repeats work
        for entry, request in batch:
            profiles.move_due(index, entry.profile_id, entry.due_key, next_key(entry))
            if request:
                report.enqueued += 1
        batch.clear()

    for entry in profiles.due(index, now_key(now)):
        report.due += 1
        batch.append((entry, request_for(entry)))
        if len(batch) == BATCH:
            flush()
            if out_of_time():
                # What is left stays due and is picked up by the next run.
                report.complete = False
                break
    flush()
    return report


CHECKS = {"birthday": run_birthday_check, "we-miss-you": run_we_miss_you_check}
