"""A campaign's dispatch run on fakes: profiles split into scan segments, jobs run until none is left (helpers for
tests/unit/test_campaigns.py and test_dispatch.py)."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

from closedloop import campaigns
from closedloop.clock import isoformat, parse_instant
from closedloop.dispatch import Dispatch
from closedloop.profiles import Profile
from tests.fakes import FakeCampaignStore, FakeDispatchQueue, FakeOneTimeSchedules, FakeSendQueue

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


class FakeScan:
    """ProfileScan over a list: segment = crc32(id) % total, pages of `limit` in id order."""

    def __init__(self, profiles: list[Profile]) -> None:
        self.profiles = profiles
        self.calls = 0

    def scan_page(self, segment: int, total_segments: int, start: dict | None, limit: int, fields=None):
        self.calls += 1
        mine = sorted(
            (p for p in self.profiles if zlib.crc32(p.profile_id.encode()) % total_segments == segment),
            key=lambda p: p.profile_id,
        )
        offset = start["offset"] if start else 0
        page = mine[offset : offset + limit]
        more = offset + limit < len(mine)
        return page, ({"offset": offset + limit} if more else None)


def targets(profiles, segment, suppressions, now):
    return [p for p in profiles if p.subscribed and (segment is None or segment.matches(p, now))]


class FakeStats:
    def __init__(self) -> None:
        self.facts: dict[str, tuple] = {}
        self.summaries: dict[str, dict] = {}

    def add(self, ref, counts, *, fact, shard_of):
        self.facts.setdefault(fact, (ref, counts))

    def summary(self, campaign_id):
        return self.summaries.get(campaign_id, {})

    def targeted(self) -> int:
        return sum(counts["targeted"] for _, counts in self.facts.values())


def profile(n: int, status: str = "subscribed", **attributes) -> Profile:
    return Profile(f"p{n:05d}", f"p{n}@example.com", status, attributes)


class World:
    def __init__(self, profiles: list[Profile], *, rate: float = 1000.0, segments: int = 4, page: int = 10) -> None:
        self.store = FakeCampaignStore()
        self.queue = FakeDispatchQueue()
        self.send_queue = FakeSendQueue()
        self.schedules = FakeOneTimeSchedules()
        self.scan = FakeScan(profiles)
        self.stats = FakeStats()
        self.now = NOW
        self.rate = rate
        self.segments, self.page = segments, page

    def dispatch(self) -> Dispatch:
        return Dispatch(
            store=self.store,
            queue=self.queue,
            send_queue=self.send_queue,
            schedules=self.schedules,
            scan=self.scan,
            targets=targets,
            suppressions=None,
            stats=self.stats,
            send_rate=lambda: self.rate,
            now=self.now,
            scan_segments=self.segments,
            page_size=self.page,
        )

    def create(self, **body) -> str:
        body = {
            "name": "Spring",
            "template": "newsletter",
            "rules": {"field": "status", "op": "==", "value": "subscribed"},
            **body,
        }
        definition = campaigns.parse_definition(
            body, template_exists=lambda t: True, segment_exists=lambda s: True, topics=("news",), now=self.now
        )
        return campaigns.create(definition, self.store, self.now)["campaign_id"]

    def send(self, campaign_id: str) -> dict:
        campaign = self.store.get(campaign_id)
        return self.dispatch().send(campaign, campaign["definition"].get("rules"))

    def run(self, limit: int = 10_000, *, fail_on=None) -> int:
        """Run queued jobs (due ones: delay within now) until none is left; how many ran."""
        ran = 0
        while self.queue.items and ran < limit:
            job, _delay = self.queue.items.pop(0)
            if job.get("not_before") and parse_instant(job["not_before"]) > self.now + timedelta(seconds=1):
                self.now = parse_instant(job["not_before"])  # time passes until the job is due
            self.dispatch().handle(job)
            ran += 1
        return ran

    def fire_schedules(self) -> None:
        """Move the clock to each pending schedule in turn and run what it queues."""
        while self.schedules.items:
            name, (at, job) = min(self.schedules.items.items(), key=lambda item: item[1][0])
            del self.schedules.items[name]
            self.now = max(self.now, at)
            self.queue.enqueue([job])
            self.run()

    def keys(self) -> list[str]:
        return [request.send_key for request in self.send_queue.requests]

    def status(self, campaign_id: str) -> str:
        return self.store.get(campaign_id)["status"]


def iso(instant: datetime) -> str:
    return isoformat(instant)
