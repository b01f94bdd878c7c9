"""Items that fall due at an instant, write-sharded, read by a tick that queries only what is due.

An item has a kind (what it is for: `deferred` sends; later, journey wake-ups), a business key and a due instant.
It lives in partition `<kind>#<crc32(key) % SHARDS>` under the sort key `<due instant>#<key>`, so a tick reads
exactly the due items of each shard (`sort key <= now~`) and the same key due at the same instant is one item.
The tick hands each batch to its caller (enqueue) before it deletes the batch, each item on the condition that it
is still there: a tick that runs twice, or dies between the two, repeats only work the callers' business keys
absorb. It stops with time to spare; whatever is left stays due and the next tick takes it.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from closedloop.clock import isoformat, parse_instant

if TYPE_CHECKING:
    from closedloop.ports import DueItems

SHARDS = 8  # one partition takes ~1,000 writes/s: eight spread a burst of deferrals; a tick costs eight queries
BATCH = 10  # SQS SendMessageBatch limit


class DueItem(NamedTuple):
    kind: str
    key: str  # the business key (a send key): the same key due at the same instant is stored once
    due: datetime
    body: str  # what the caller needs when it falls due (a send request's JSON)
    profile_id: str | None = None  # whose it is: a GDPR export or erasure finds it

    @property
    def shard(self) -> str:
        return shard_of(self.kind, self.key)

    @property
    def sort_key(self) -> str:
        return f"{isoformat(self.due)}#{self.key}"


def shard_of(kind: str, key: str) -> str:
    return f"{kind}#{zlib.crc32(key.encode()) % SHARDS}"


def shards(kind: str) -> list[str]:
    return [f"{kind}#{n}" for n in range(SHARDS)]


def split_sort_key(sort_key: str) -> tuple[datetime, str]:
    """The due instant and the key of a stored sort key (an instant holds no '#'; a key may)."""
    due, _, key = sort_key.partition("#")
    return parse_instant(due), key


def bound(now: datetime) -> str:
    """Upper bound for `sort key <= bound`: '~' sorts after '#', so every item due at or before now matches."""
    return isoformat(now) + "~"


@dataclass
class TickReport:
    kind: str
    due: int = 0
    handed_on: int = 0
    removed: int = 0  # fewer than handed_on: another tick removed some first (their work was repeated)
    complete: bool = True

    def summary(self) -> dict:
        return dict(self.__dict__)


def tick(
    store: DueItems,
    kind: str,
    now: datetime,
    hand_on: Callable[[list[DueItem]], None],
    out_of_time: Callable[[], bool] = lambda: False,
) -> TickReport:
    """Hand every item of `kind` due at `now` to `hand_on` in batches of BATCH, then remove it.

    The first shard read turns with the minute, so a backlog in one shard cannot keep the others waiting."""
    report = TickReport(kind)
    all_shards = shards(kind)
    first = now.minute % SHARDS
    for shard in all_shards[first:] + all_shards[:first]:
        batch: list[DueItem] = []
        for item in store.due(shard, bound(now)):
            batch.append(item)
            if len(batch) == BATCH:
                _hand_on(store, batch, hand_on, report)
                if out_of_time():
                    report.complete = False
                    return report
        _hand_on(store, batch, hand_on, report)
        if out_of_time():
            report.complete = False
            return report
    return report


def _hand_on(store: DueItems, batch: list[DueItem], hand_on: Callable, report: TickReport) -> None:
    if not batch:
        return
    report.due += len(batch)
    hand_on(list(batch))  # first hand on, then remove: a failure in between only repeats work
    report.handed_on += len(batch)
    report.removed += sum(store.remove(item) for item in batch)
    batch.clear()
