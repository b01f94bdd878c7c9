"""Who a segment targets: the one definition that a preview counts and a campaign's dispatch sends to.

A profile is targeted when it is subscribed, matches the segment's rules, and its address is not on the suppression
list. The profiles come a scan page at a time (closedloop.ports.ProfileScan) and are judged a page at a time, so
the suppression list costs one BatchGetItem per 100 candidates however large the audience, and memory holds one
page. The send gate checks consent and suppression again (strongly consistent) when each mail goes out; this is
the decision of who is *targeted*, made the same way for the count a marketer previews and for the send.

No cron rebuilds segments: they are evaluated when a preview or a campaign asks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from closedloop.errors import PreviewTooSlow
from closedloop.ports import ProfileScan, Suppressions
from closedloop.profiles import Profile
from closedloop.segments import Segment
from closedloop.validation import normalise_email

SCAN_PAGE = 500  # profiles per scan page: one BatchGetItem round of suppression checks per page (100 keys each)
SAMPLE_SIZE = 10


def targets(
    profiles: Sequence[Profile], segment: Segment | None, suppressions: Suppressions, now: datetime
) -> list[Profile]:
    """The profiles of one page that the segment targets (all subscribed ones when `segment` is None)."""
    candidates = [p for p in profiles if p.subscribed and (segment is None or segment.matches(p, now))]
    if not candidates:
        return []
    blocked = suppressions.suppressed_among([normalise_email(p.email) for p in candidates])
    return [p for p in candidates if normalise_email(p.email) not in blocked]


def scan_segment(
    scan: ProfileScan,
    segment_no: int,
    total_segments: int,
    limit: int = SCAN_PAGE,
    fields: frozenset[str] | None = None,
) -> Iterator[list[Profile]]:
    """Every page of one parallel-scan segment of the profiles table (with `fields`: what the rules read)."""
    start = None
    while True:
        page, start = scan.scan_page(segment_no, total_segments, start, limit, fields)
        yield page
        if start is None:
            return


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[str]

    def to_api(self) -> dict:
        return {"count": self.count, "sample": self.sample}


def preview(
    segment: Segment,
    scan: ProfileScan,
    suppressions: Suppressions,
    now: datetime,
    *,
    parallel: int,
    deadline: Callable[[], bool] = lambda: False,
    sample_size: int = SAMPLE_SIZE,
) -> Preview:
    """Count exactly the profiles a campaign would target now, with a sample of their ids (the smallest, so the
    same audience shows the same sample). The profiles table is read as `parallel` scan segments at once.
    `deadline()` turning true stops the reading with PreviewTooSlow rather than answering a partial count."""

    def one_segment(segment_no: int) -> tuple[int, list[str]]:
        count, sample = 0, []
        for page in scan_segment(scan, segment_no, parallel, SCAN_PAGE, segment.reads):
            if deadline():
                raise PreviewTooSlow(
                    "There are too many profiles to count within one API call; narrow the rules or try again."
                )
            chosen = targets(page, segment, suppressions, now)
            count += len(chosen)
            sample = sorted(sample + [p.profile_id for p in chosen])[:sample_size]
        return count, sample

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        results = list(pool.map(one_segment, range(parallel)))
    sample = sorted(pid for _, ids in results for pid in ids)[:sample_size]
    return Preview(sum(count for count, _ in results), sample)
