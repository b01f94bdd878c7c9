"""Small in-memory implementations of closedloop.ports for unit tests (fakes, not mocks).

tests/integration/test_store_contract.py runs the same behaviour tests against these and the DynamoDB adapters,
so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import json
import zlib
from collections.abc import Iterator
from datetime import datetime, timedelta

from closedloop.clock import isoformat, parse_instant
from closedloop.errors import ConcurrentUpdate, EmailTaken, ProfileNotFound, ProviderThrottled
from closedloop.mail import OutgoingMail
from closedloop.pause import Held
from closedloop.ports import Activity, ClickRecord, DueEntry, Link, MessageStatus
from closedloop.privacy import Record
from closedloop.profiles import Profile, ProfileChange


class FakeProfiles:
    """A ProfileStore and the ActivityLog of the same profiles."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}
        self.activities: set[str] = set()
        self.clicks: dict[tuple[str, str], dict] = {}  # (profile id, activity key) -> stored click
        self.claims: dict[str, str] = {}  # normalised address -> profile id
        self.stats = FakeCampaignStats()  # where a campaign's opens and clicks are counted, with their records

    def get(self, profile_id: str, consistent: bool = False) -> Profile | None:
        item = self.items.get(profile_id)
        if item is None:
            return None
        return Profile(
            profile_id,
            item["email"],
            item["status"],
            dict(item.get("attributes", {})),
            dict(item["interests"]),
            item.get("last_activity_at"),
            item.get("created_at"),
            item.get("updated_at"),
            item.get("version", 0),
            item.get("consent"),
            dict(item.get("event_counts", {})),
            item.get("purchase_count", 0),
            dict(item.get("revenue", {})),
            item.get("last_purchase_at"),
            item.get("cart"),
            list(item["topics"]) if item.get("topics") is not None else None,
            dict(item.get("offers_sent", {})),
            last_opened_at=item.get("last_opened_at"),
            last_clicked_at=item.get("last_clicked_at"),
            clicked_campaigns=sorted(item.get("clicked_campaigns", ())),
        )

    def save(self, change: ProfileChange, now: datetime, existing: Profile | None) -> tuple[Profile, bool]:
        item = self.items.get(change.profile_id)
        if (item is None) != (existing is None) or (item and item.get("version", 0) != existing.version):
            raise ConcurrentUpdate(change.profile_id)
        if self.claims.get(change.email, change.profile_id) != change.profile_id:
            raise EmailTaken(change.email)
        if change.previous_email and self.claims.get(change.previous_email) == change.profile_id:
            del self.claims[change.previous_email]
        self.claims[change.email] = change.profile_id
        item = self.items.setdefault(change.profile_id, {"interests": {}, "created_at": isoformat(now)})
        if change.consent:
            item["consent"] = change.consent
        if change.topics is not None:
            item["topics"] = list(change.topics)
        item.update(
            email=change.email,
            status=change.status,
            attributes=dict(change.attributes),
            updated_at=isoformat(now),
            version=item.get("version", 0) + 1,
            birthday=change.birthday_due,
            idle=(item.get("idle") or change.idle_due) if change.idle_due else None,
        )
        return self.get(change.profile_id), existing is None

    def find_by_email(self, email: str) -> Profile | None:
        profile_id = self.claims.get(email)
        return self.get(profile_id) if profile_id else None

    def add(self, profile_id: str, status: str = "subscribed", email: str | None = None, **attributes) -> None:
        """A stored profile, as a test's given (written before address claims existed: it holds none)."""
        self.items[profile_id] = {
            "email": email or f"{profile_id}@example.net",
            "status": status,
            "attributes": attributes,
            "interests": {},
            "version": 1,
        }

    def scan_page(self, segment: int, total_segments: int, start: dict | None, limit: int, fields=None):
        """A parallel scan as DynamoDB splits one: by a hash of the key, in a stable order, resumed after `start`."""
        ids = sorted(pid for pid in self.items if zlib.crc32(pid.encode()) % total_segments == segment)
        after = start["profile_id"]["S"] if start else None
        ids = [pid for pid in ids if after is None or pid > after]
        page = [self.get(pid) for pid in ids[:limit]]
        more = len(ids) > limit
        return page, ({"profile_id": {"S": page[-1].profile_id}} if more else None)

    def interests(self, profile_id: str) -> dict[str, int]:
        return dict(self.items[profile_id]["interests"])

    def record_activity(self, activity: Activity, idle_due: str | None, expires_at: int) -> bool:
        key = f"{activity.profile_id}|{activity.key}"
        if key in self.activities:
            return False
        if activity.profile_id not in self.items:
            raise ProfileNotFound(activity.profile_id)
        self.activities.add(key)
        self._apply(activity, idle_due)
        self._count(activity, "open")
        return True

    def _count(self, activity: Activity, verdict: str) -> None:
        from closedloop.campaign_stats import reaction_counts

        if counted := reaction_counts(activity, verdict):
            self.stats.count(*counted, activity.profile_id)

    def put_click(self, activity: Activity, expires_at: int) -> bool:
        key = (activity.profile_id, activity.key)
        if key in self.clicks:
            return False
        verdict = "bot" if activity.bot_reason else "pending"
        self.clicks[key] = {"activity": activity, "verdict": verdict, "bot_reason": activity.bot_reason}
        if activity.bot_reason:
            self._count(activity, "bot")
        return True

    def clicks_of(self, profile_id: str, message_id: str) -> list[ClickRecord]:
        return [
            ClickRecord(a.activity_id, a.occurred_at, a.details["link"], click["bot_reason"])
            for (owner, _), click in self.clicks.items()
            if owner == profile_id and (a := click["activity"]).details["message_id"] == message_id
        ]

    def settle_click(self, activity: Activity, bot_reason: str | None, idle_due: str | None) -> bool:
        click = self.clicks.get((activity.profile_id, activity.key))
        if click is None or click["verdict"] != "pending":
            return False
        if bot_reason is None and activity.profile_id not in self.items:
            raise ProfileNotFound(activity.profile_id)
        click.update(verdict="bot" if bot_reason else "human", bot_reason=bot_reason)
        if bot_reason is None:
            self._apply(activity, idle_due)
        self._count(activity, click["verdict"])
        return True

    def verdict(self, profile_id: str, activity: Activity) -> str:
        return self.clicks[(profile_id, activity.key)]["verdict"]

    def _apply(self, activity: Activity, idle_due: str | None) -> None:
        item = self.items[activity.profile_id]
        for name, amount in activity.increments.items():
            item["interests"][name] = item["interests"].get(name, 0) + amount
        occurred = isoformat(activity.occurred_at)
        self._aggregate(item, activity.aggregates, occurred)
        if activity.moves_last_activity and idle_due and occurred >= (item.get("last_activity_at") or ""):
            item["last_activity_at"] = occurred
            if item["status"] == "subscribed":
                item["idle"] = idle_due
        mark = {"open": "last_opened_at", "click": "last_clicked_at"}.get(activity.kind)
        if mark and activity.bot_reason is None and occurred >= (item.get(mark) or ""):
            item[mark] = occurred
        if activity.kind == "click" and activity.details.get("campaign"):
            item.setdefault("clicked_campaigns", set()).add(activity.details["campaign"]["id"])

    @staticmethod
    def _aggregate(item: dict, aggregates, occurred: str) -> None:
        if aggregates is None:
            return
        for attribute, key, amount in aggregates.counters:
            if key is None:
                item[attribute] = item.get(attribute, 0) + amount
            else:
                counters = item.setdefault(attribute, {})
                counters[key] = counters.get(key, 0) + amount
        cart_at = (item.get("cart") or {}).get("updated_at", "")
        purchase_ok = not aggregates.last_purchase_at or occurred >= (item.get("last_purchase_at") or "")
        cart_ok = not (aggregates.cart or aggregates.clears_cart) or occurred >= cart_at
        if aggregates.cart and occurred <= (item.get("last_purchase_at") or ""):
            cart_ok = False  # a cart from before the last purchase was closed by it
        if purchase_ok and cart_ok:
            if aggregates.last_purchase_at:
                item["last_purchase_at"] = occurred
            if aggregates.cart:
                item["cart"] = {**aggregates.cart, "items": json.loads(aggregates.cart.get("items", "[]"))}
            elif aggregates.clears_cart:
                item["cart"] = None

    def due(self, index: str, now_key: str) -> Iterator[DueEntry]:
        for profile_id, item in sorted(self.items.items()):
            key = item.get(index)
            if key and key <= now_key:
                yield DueEntry(profile_id, key)

    def move_due(self, index: str, profile_id: str, seen: str, new: str | None) -> bool:
        item = self.items[profile_id]
        if item.get(index) != seen:
            return False
        item[index] = new
        return True

    def set_status(self, profile_id: str, status: str, now: datetime, consent: dict) -> bool:
        item = self.items.get(profile_id)
        if item is None:
            return False
        item.update(status=status, consent=consent, updated_at=isoformat(now), version=item.get("version", 0) + 1)
        if status != "subscribed":
            item["birthday"] = item["idle"] = None
        return True

    def set_topics(self, profile_id: str, topics: tuple[str, ...], now: datetime) -> bool:
        item = self.items.get(profile_id)
        if item is None:
            return False
        item.update(topics=list(topics), updated_at=isoformat(now), version=item.get("version", 0) + 1)
        return True


class FakeLedger:
    def __init__(self, profiles: FakeProfiles | None = None, *, stats: FakeCampaignStats | None = None) -> None:
        self.items: dict[str, dict] = {}
        self.profiles = profiles  # where mark_sent adds a sent mail's offers (offers_sent)
        self.stats = stats  # where mark_sent counts a campaign's mail as sent

    def _put_new(self, key: str, item: dict) -> bool:
        if key in self.items:
            return False
        self.items[key] = item
        return True

    def reserve_send(self, send_key: str, message_id: str, now: datetime, profile_id: str | None = None) -> bool:
        item = {"state": "reserved", "message_id": message_id, "at": isoformat(now), "profile_id": profile_id}
        return self._put_new(f"send#{send_key}", item)

    def release_send(self, send_key: str) -> None:
        if self.items.get(f"send#{send_key}", {}).get("state") == "reserved":
            del self.items[f"send#{send_key}"]

    def mark_sent(self, send_key: str, status: MessageStatus, offers=(), campaign=None) -> None:
        if offers and self.profiles is None:
            raise AssertionError("FakeLedger(profiles) is needed to record a mail's offers")
        if campaign is not None and self.stats is None:
            raise AssertionError("FakeLedger(stats=...) is needed to count a campaign's mail")
        if not self._finish(send_key, "sent", status):
            return
        profile = self.profiles.items.get(status.profile_id) if offers else None
        if profile is not None:  # an erased profile is never recreated
            sent = profile.setdefault("offers_sent", {})
            for offer in dict.fromkeys(offers):
                sent[offer] = sent.get(offer, 0) + 1
        if campaign is not None:
            if campaign.variant:
                self.items[f"send#{send_key}"]["variant"] = campaign.variant
            self.stats.count(campaign, {"sent": 1}, status.profile_id)

    def mark_possibly_sent(self, send_key: str, status: MessageStatus) -> None:
        self._finish(send_key, "possibly_sent", status)

    def _finish(self, send_key: str, state: str, status: MessageStatus) -> bool:
        """False (nothing changed) unless the key is still reserved: a repeated call finds it finished."""
        item = self.items.get(f"send#{send_key}")
        if item is None or item["state"] != "reserved":
            return False
        item.update(state=state, provider_message_id=status.provider_message_id)
        self.put_message_status(status)
        return True

    def put_message_status(self, status: MessageStatus, *, only_if_new: bool = False) -> bool:
        if only_if_new:
            return self._put_new(f"message#{status.message_id}", {"status": status})
        self.items[f"message#{status.message_id}"] = {"status": status}
        return True

    def get_message_status(self, message_id: str) -> MessageStatus | None:
        item = self.items.get(f"message#{message_id}")
        return item["status"] if item else None

    def send_state(self, send_key: str) -> str | None:
        return self.items.get(f"send#{send_key}", {}).get("state")

    def claim_threshold(self, rule_id: str, profile_id: str, now: datetime) -> str:
        key = f"threshold#{rule_id}#{profile_id}"
        if self._put_new(key, {"state": "pending", "at": isoformat(now), "profile_id": profile_id}):
            return "claimed"
        item = self.items[key]
        return "published" if item["state"] == "published" else f"pending:{item['at']}"

    def mark_threshold_published(self, rule_id: str, profile_id: str) -> None:
        self.items[f"threshold#{rule_id}#{profile_id}"]["state"] = "published"


class FakeLinkSets:
    def __init__(self) -> None:
        self.items: dict[str, list[Link]] = {}
        self.campaigns: dict[str, object] = {}

    def put(self, link_set: str, links: list[Link], campaign=None) -> None:
        self.items.setdefault(link_set, list(links))
        self.campaigns.setdefault(link_set, campaign)

    def campaign_of(self, link_set: str):
        return self.campaigns.get(link_set)

    def get(self, link_set: str) -> list[Link] | None:
        return self.items.get(link_set)


class FakeMailer:
    """Accepts mail; `throttle_next`, `fail_with` and `fail_after_accepting` play SES's failures."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []
        self.raw: list[bytes] = []
        self.throttle_next = 0
        self.fail_with: Exception | None = None
        self.fail_after_accepting = False

    def send(self, mail: OutgoingMail, raw: bytes) -> str:
        if self.throttle_next:
            self.throttle_next -= 1
            raise ProviderThrottled("throttled")
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(mail)
        self.raw.append(raw)
        if self.fail_after_accepting:
            raise ConnectionError("the connection dropped after SES accepted the message")
        return f"ses-{len(self.sent)}"


class FakePublisher:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict]] = []
        self.failures = 0

    def publish(self, detail_type: str, detail: dict) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("EventBridge unreachable")
        self.events.append((detail_type, detail))

    def publish_many(self, detail_type: str, details: list[dict]) -> None:
        for detail in details:
            self.publish(detail_type, detail)


class FakeSendQueue:
    def __init__(self) -> None:
        self.items: list[tuple[object, int]] = []

    def enqueue(self, requests: list, delay_seconds: int = 0) -> None:
        self.items.extend((request, delay_seconds) for request in requests)

    @property
    def requests(self) -> list:
        return [request for request, _ in self.items]


class FakeReactionQueue:
    def __init__(self, broken: bool = False) -> None:
        self.messages: list[tuple[str, Activity, int]] = []  # (step, activity, delay)
        self.broken = broken

    def enqueue(self, activity: Activity, step: str = "record", delay_seconds: int = 0) -> None:
        if self.broken:
            raise ConnectionError("SQS unreachable")
        self.messages.append((step, activity, delay_seconds))

    @property
    def items(self) -> list[Activity]:
        return [activity for _, activity, _ in self.messages]


class FlakyProfiles(FakeProfiles):
    """Fails the first `failures` activity writes, as a DynamoDB outage would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def record_activity(self, activity: Activity, idle_due: str | None, expires_at: int) -> bool:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("DynamoDB unreachable")
        return super().record_activity(activity, idle_due, expires_at)


class FakeSuppressions:
    """The suppression list and transient bounces, by normalised address."""

    def __init__(self) -> None:
        self.items: dict[str, object] = {}
        self.bounces: dict[str, dict[str, str]] = {}
        self.pause = None  # the sending pause in force (FakeSendingControl sets it): read with the entries

    def get(self, address: str):
        return self.items.get(address)

    def put(self, entry, *, only_if_new: bool = False) -> bool:
        if only_if_new and entry.address in self.items:
            return False
        self.items[entry.address] = entry
        return True

    def delete(self, address: str) -> bool:
        return self.items.pop(address, None) is not None

    def note_transient_bounce(self, address: str, mail_id: str, at: datetime, expires_at: int) -> dict[str, str]:
        seen = self.bounces.setdefault(address, {})
        seen[mail_id] = min(seen.get(mail_id, isoformat(at)), isoformat(at))
        return dict(seen)

    def screen(self, keys):
        from closedloop.suppression import Screen

        return Screen(next((self.items[key] for key in keys if key in self.items), None), self.pause)

    def suppressed_among(self, addresses) -> set[str]:
        return {address for address in addresses if address in self.items}


class FakeSendingControl:
    """The sending pause (kept on the FakeSuppressions, which the gate reads it with) and the held messages."""

    def __init__(self, suppressions: FakeSuppressions, ledger: FakeLedger) -> None:
        self.suppressions, self.ledger = suppressions, ledger
        self.held: dict[tuple[str, str], dict] = {}  # (profile id, send key) -> request, pause id, held at

    def pause_state(self):
        return self.suppressions.pause

    def pause(self, pause):
        if self.suppressions.pause is None:
            self.suppressions.pause = pause
        return self.suppressions.pause

    def resume(self):
        ended, self.suppressions.pause = self.suppressions.pause, None
        return ended

    def hold(self, request, pause, status) -> str:
        key = (request.profile_id, request.send_key)
        if self.ledger.send_state(request.send_key) is not None:
            return "duplicate"
        if self.suppressions.pause is None:
            return "resumed"
        if key in self.held and self.held[key]["pause_id"] == pause.pause_id:
            return "already_held"
        self.held[key] = {"request": request, "pause_id": pause.pause_id, "held_at": status.at}
        self.ledger.put_message_status(status)
        return "held"

    def held_count(self) -> int:
        return len(self.held)

    def held_page(self, after, limit):
        keys = sorted(self.held)
        if after is not None:
            keys = [key for key in keys if key > tuple(json.loads(after))]
        page = [Held(self.held[key]["request"], self.held[key]["pause_id"]) for key in keys[:limit]]
        return page, json.dumps(keys[limit - 1]) if len(keys) > limit else None

    def unhold(self, held) -> bool:
        key = (held.request.profile_id, held.request.send_key)
        if self.held.get(key, {}).get("pause_id") != held.pause_id:
            return False
        del self.held[key]
        return True


class FakeReleaseQueue:
    def __init__(self) -> None:
        self.jobs: list[dict] = []

    def enqueue(self, job: dict) -> None:
        self.jobs.append(job)


class FakePersonalRecords:
    """What the fakes hold about a person, as closedloop.adapters.personal finds it in DynamoDB."""

    def __init__(
        self, profiles: FakeProfiles, ledger: FakeLedger, suppressions: FakeSuppressions, control=None, deferred=None
    ):
        self.profiles, self.ledger, self.suppressions, self.control = profiles, ledger, suppressions, control
        self.deferred = deferred

    def records(self, profile_id: str, address: str):
        if self.profiles.claims.get(address) == profile_id:
            yield Record("ledger", f"email#{address}", "email_claim", {"email": address})
        if address in self.suppressions.items:
            yield Record("ledger", f"suppressed#{address}", "suppression", self.suppressions.items[address].to_api())
        if address in self.suppressions.bounces:
            bounces = sorted(f"{m} {at}" for m, at in self.suppressions.bounces[address].items())
            yield Record("ledger", f"bounces#{address}", "bounces", {"transient_bounces": bounces})
        for key, item in list(self.ledger.items.items()):
            prefix, _, rest = key.partition("#")
            if prefix == "message" and item["status"].profile_id == profile_id:
                yield Record("ledger", key, "message", item["status"].to_api())
            elif prefix in ("send", "threshold") and item.get("profile_id") == profile_id:
                data = {"state": item["state"], "at": item.get("at")}
                if prefix == "send":
                    data.update(send_key=rest, message_id=item.get("message_id"))
                yield Record("ledger", key, prefix, data)
            elif prefix == "cap-slot" and item.get("profile_id") == profile_id:
                yield Record("ledger", key, prefix, {"pk": key, **item})
        for item in list(self.deferred.items.values()) if self.deferred else ():
            if item.profile_id == profile_id:
                request = json.loads(item.body)
                data = {"send_key": item.key, "message_id": request.get("message_id"), "due": isoformat(item.due)}
                yield Record("deferred", json.dumps([item.shard, item.sort_key]), "deferred", data)
        for key in sorted(self.profiles.activities):
            owner, _, sk = key.partition("|")
            if owner == profile_id:
                kind, _, activity_id = sk.partition("#")
                yield Record("activity", key, kind, {"kind": kind, "id": activity_id})
        for (owner, sk), click in sorted(self.profiles.clicks.items(), key=lambda kv: kv[0]):
            if owner == profile_id:
                data = {"kind": "click", "id": click["activity"].activity_id, "verdict": click["verdict"]}
                yield Record("activity", f"{owner}|{sk}", "click", data)
        for (owner, send_key), held in sorted((self.control.held if self.control else {}).items()):
            if owner == profile_id:
                data = {"send_key": send_key, "message_id": held["request"].message_id}
                yield Record("held", json.dumps([owner, send_key]), "held", data)

    def forget(self, records) -> int:
        deleted = 0
        for record in list(records):
            if record.store == "activity":
                click_key = tuple(record.key.split("|", 1))
                found = record.key in self.profiles.activities or click_key in self.profiles.clicks
                self.profiles.activities.discard(record.key)
                self.profiles.clicks.pop(click_key, None)
            elif record.store == "held":
                found = self.control.held.pop(tuple(json.loads(record.key)), None) is not None
            elif record.store == "deferred":
                found = self.deferred.items.pop(tuple(json.loads(record.key)), None) is not None
            elif record.kind == "email_claim":
                found = self.profiles.claims.pop(record.key.partition("#")[2], None) is not None
            elif record.kind == "suppression":
                found = self.suppressions.items.pop(record.key.partition("#")[2], None) is not None
            elif record.kind == "bounces":
                found = self.suppressions.bounces.pop(record.key.partition("#")[2], None) is not None
            else:
                found = self.ledger.items.pop(record.key, None) is not None
            deleted += found
        return deleted

    def forget_profile(self, profile_id: str) -> bool:
        return self.profiles.items.pop(profile_id, None) is not None


class FakeSignups:
    """Confirmation-mail slots by address and confirmation claims (closedloop.adapters.signups)."""

    def __init__(self) -> None:
        self.slots: dict[str, list[datetime | None]] = {}
        self.claims: dict[str, str] = {}

    def take_confirmation_slot(self, address: str, now: datetime, slots: int, window_seconds: int) -> bool:
        used = self.slots.setdefault(address, [None] * slots)
        for n, at in enumerate(used):
            if at is None or (now - at).total_seconds() >= window_seconds:
                used[n] = now
                return True
        return False

    def claim_confirmation(self, token_key: str, now: datetime) -> str:
        if token_key not in self.claims:
            self.claims[token_key] = "pending"
            return "claimed"
        return self.claims[token_key]

    def mark_confirmation_published(self, token_key: str) -> None:
        self.claims[token_key] = "published"


class FakeImportStore:
    """Imports and their chunks, writing profiles into a FakeProfiles with the rules of its `save`."""

    def __init__(self, profiles: FakeProfiles, suppressions: FakeSuppressions) -> None:
        self.profiles = profiles
        self.suppressions = suppressions
        self.records: dict[str, object] = {}
        self.chunks: dict[tuple[str, int], list[dict]] = {}  # counted chunks and their errors
        self.conflict_once: set[str] = set()  # profile ids whose next write fails as if someone wrote them first

    def create(self, record, now: datetime) -> None:
        assert record.import_id not in self.records
        self.records[record.import_id] = record

    def get(self, import_id: str):
        import copy

        record = self.records.get(import_id)
        return copy.deepcopy(record) if record else None

    def mark_planned(self, import_id: str, rows: int, chunks: int) -> None:
        record = self.records[import_id]
        if record.chunks is None:
            record.rows, record.chunks = rows, chunks

    def refuse(self, import_id: str, line: int, reason: str) -> None:
        record = self.records[import_id]
        if record.chunks is None:
            record.rows, record.chunks, record.file_errors = 0, 0, [{"line": line, "reason": reason}]

    def chunk_counted(self, import_id: str, number: int) -> bool:
        return (import_id, number) in self.chunks

    def chunk_errors(self, import_id: str, numbers: list[int]):
        for number in numbers:
            yield self.chunks[(import_id, number)]

    def count_chunk(self, import_id, number, counters, errors, now) -> bool:
        if (import_id, number) in self.chunks:
            return False
        self.chunks[(import_id, number)] = list(errors)
        record = self.records[import_id]
        record.done_chunks += 1
        for outcome, count in counters.items():
            record.counters[outcome] = record.counters.get(outcome, 0) + count
        if errors:
            record.error_chunks = sorted({*record.error_chunks, number})
        return True

    def snapshot(self, addresses: set[str], profile_ids: set[str], suppression_keys: set[str] = frozenset()):
        from closedloop.imports import Snapshot

        claims = {a: self.profiles.claims[a] for a in addresses if a in self.profiles.claims}
        wanted = {*profile_ids, *claims.values()}
        found = {pid: self.profiles.get(pid) for pid in wanted if pid in self.profiles.items}
        return Snapshot(claims, found, {key: self.suppressions.get(key) for key in {*addresses, *suppression_keys}})

    def write_profiles(self, writes: list, now: datetime) -> set[str]:
        conflicted = set()
        for op in writes:
            if op.change.profile_id in self.conflict_once:
                self.conflict_once.discard(op.change.profile_id)
                conflicted.add(op.change.profile_id)
                continue
            try:
                self.profiles.save(op.change, now, op.existing)
            except (ConcurrentUpdate, EmailTaken):
                conflicted.add(op.change.profile_id)
        return conflicted


class FakeImportFiles:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def put(self, key: str, data: bytes) -> None:
        self.files[key] = data

    def upload_url(self, key: str, expires_s: int) -> str:
        return f"https://uploads.example.test/{key}?expires={expires_s}"

    def read(self, key: str):
        data = self.files[key]
        for start in range(0, len(data), 7):  # small blocks: lines and characters are cut anywhere
            yield data[start : start + 7]

    def read_range(self, key: str, start: int, end: int) -> bytes:
        return self.files[key][start:end]


class FakeImportQueue:
    def __init__(self) -> None:
        self.chunks: list = []

    def enqueue(self, chunks: list) -> None:
        self.chunks.extend(chunks)


class FakeSegmentStore:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def get(self, segment_id: str) -> dict | None:
        found = self.items.get(segment_id)
        return copy.deepcopy(found) if found else None

    def put(self, segment_id: str, name: str, rules: dict, now: str) -> tuple[dict, bool]:
        old = self.items.get(segment_id)
        created_at = old["created_at"] if old else now
        self.items[segment_id] = {
            "id": segment_id,
            "name": name,
            "rules": copy.deepcopy(rules),
            "created_at": created_at,
            "updated_at": now,
        }
        return self.get(segment_id), old is None


class FakeCapSlots:
    """The frequency cap's slots (closedloop.adapters.pacing), kept with the ledger's items as DynamoDB keeps them."""

    def __init__(self, ledger: FakeLedger | None = None) -> None:
        self.items: dict[str, dict] = ledger.items if ledger is not None else {}
        self.writes = 0  # conditional puts tried

    def take(self, profile_id: str, send_key: str, now: datetime, slots: int, window_seconds: int):
        free_since = isoformat(now - timedelta(seconds=window_seconds))
        in_use = []
        for slot in range(slots):
            key = f"cap-slot#{profile_id}#{slot}"
            held = self.items.get(key)
            self.writes += 1
            if held is None or held["at"] <= free_since:
                self.items[key] = {"at": isoformat(now), "send_key": send_key, "profile_id": profile_id}
                return None
            if held["send_key"] == send_key:
                return None
            in_use.append(parse_instant(held["at"]))
        return min(in_use) + timedelta(seconds=window_seconds)


class FakeDueItems:
    """Due items by (shard, sort key), as closedloop.adapters.pacing keeps them in the deferred table."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], object] = {}
        self.expires: dict[tuple[str, str], int] = {}

    def put(self, item, expires_at: int) -> bool:
        key = (item.shard, item.sort_key)
        if key in self.items:
            return False
        self.items[key], self.expires[key] = item, expires_at
        return True

    def due(self, shard: str, bound: str):
        for key in sorted(k for k in self.items if k[0] == shard and k[1] <= bound):
            if key in self.items:
                yield self.items[key]

    def remove(self, item) -> bool:
        self.expires.pop((item.shard, item.sort_key), None)
        return self.items.pop((item.shard, item.sort_key), None) is not None


class FakeCampaignStats:
    """A campaign's counters: shard items by (campaign, stage, variant, shard) and the facts counted."""

    def __init__(self) -> None:
        self.shards: dict[tuple[str, str, str, int], dict] = {}
        self.facts: set[tuple[str, str]] = set()
        self.converted: dict[str, str] = {}  # the ledger's converted keys -> profile id

    def convert(self, ref, profile_id: str, counts: dict) -> bool:
        from closedloop.campaign_keys import converted_key

        if converted_key(ref.id, profile_id) in self.converted:
            return False
        self.converted[converted_key(ref.id, profile_id)] = profile_id
        self.count(ref, counts, profile_id)
        return True

    def add(self, ref, counts: dict, *, fact: str, shard_of: str) -> bool:
        from closedloop import campaign_stats

        counts = campaign_stats.check_counts(counts)
        if (ref.id, fact) in self.facts:
            return False
        self.facts.add((ref.id, fact))
        self.count(ref, counts, shard_of)
        return True

    def count(self, ref, counts: dict, shard_of: str) -> None:
        """ADD without a fact: what a write that carries its own business key does (mark_sent, an open, a click)."""
        from closedloop import campaign_stats

        key = (ref.id, ref.stage, ref.variant or campaign_stats.NO_VARIANT, campaign_stats.shard(shard_of))
        shard = self.shards.setdefault(key, {})
        for name, amount in campaign_stats.check_counts(counts).items():
            shard[name] = shard.get(name, 0) + amount

    def summary(self, campaign_id: str) -> dict:
        from closedloop import campaign_stats

        return campaign_stats.merge(
            (stage, variant, counts) for (cid, stage, variant, _), counts in self.shards.items() if cid == campaign_id
        )


class FakeCampaignReach:
    """Stored campaigns (definition, started_at) and the campaign mails and holdouts each person got."""

    def __init__(self) -> None:
        self.campaigns: dict[str, dict] = {}
        self.sent: dict[str, list] = {}  # profile id -> Touch

    def campaign(self, campaign_id: str) -> dict | None:
        return self.campaigns.get(campaign_id)

    def touches(self, profile_id: str) -> list:
        return list(self.sent.get(profile_id, []))


class FakeCampaignStore:
    """A CampaignStore in memory: the campaign items, audience pages, progress sets, parked items, and the ledger's
    holdout and conversion records (`ledger` keys -> items)."""

    def __init__(self) -> None:
        import copy

        self._copy = copy.deepcopy
        self.campaigns: dict[str, dict] = {}
        self.listing: list[tuple[str, str]] = []  # (created_at#id, id)
        self.pages: dict[tuple[str, int, int], dict] = {}
        self.done: dict[tuple[str, str], dict[str, int]] = {}  # (campaign, phase) -> page key -> recipients
        self.parked_items: dict[str, dict[str, tuple[str, object]]] = {}
        self.ledger: dict[str, dict] = {}

    def create(self, campaign_id: str, definition: dict, created_at: str) -> None:
        assert campaign_id not in self.campaigns
        self.campaigns[campaign_id] = {
            "campaign_id": campaign_id,
            "name": definition["name"],
            "status": "draft",
            "definition": self._copy(definition),
            "created_at": created_at,
            "updated_at": created_at,
            **({"send_at": definition["send_at"]} if definition.get("send_at") else {}),
        }
        self.listing.append((f"{created_at}#{campaign_id}", campaign_id))

    def get(self, campaign_id: str, consistent: bool = True) -> dict | None:
        found = self.campaigns.get(campaign_id)
        return self._copy(found) if found else None

    def status(self, campaign_id: str) -> str | None:
        found = self.campaigns.get(campaign_id)
        return found["status"] if found else None

    def list(self, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        ordered = sorted(self.listing, reverse=True)
        if cursor:
            ordered = [entry for entry in ordered if entry[0] < cursor]
        page = ordered[:limit]
        next_cursor = page[-1][0] if len(ordered) > limit else None
        return [self.get(campaign_id) for _, campaign_id in page], next_cursor

    def progress(self, campaign_id: str) -> dict:
        return {
            phase: {"pages_done": len(pages), "queued": sum(pages.values())}
            for (cid, phase), pages in self.done.items()
            if cid == campaign_id
        }

    def transition(self, campaign_id, from_statuses, to, now, changes=None):
        campaign = self.campaigns[campaign_id]
        if campaign["status"] not in from_statuses:
            return None
        campaign.update(self._copy(changes or {}), status=to, updated_at=now)
        return self.get(campaign_id)

    def advance(self, campaign_id: str, from_phase: str, to_phase: str, changes: dict) -> bool:
        campaign = self.campaigns[campaign_id]
        if campaign.get("phase") != from_phase:
            return False
        campaign.update(self._copy(changes), phase=to_phase)
        return True

    def put_page(self, campaign_id: str, segment: int, page: int, ids: list[str], before: int) -> None:
        self.pages[(campaign_id, segment, page)] = {"ids": list(ids), "before": before}

    def get_page(self, campaign_id: str, segment: int, page: int) -> dict:
        return self._copy(self.pages[(campaign_id, segment, page)])

    def segment_scanned(self, campaign_id: str, segment: int, pages: int, count: int) -> dict:
        campaign = self.campaigns[campaign_id]
        campaign["scanned"] = sorted({*campaign.get("scanned", []), segment})
        campaign["segment_pages"][str(segment)] = pages
        campaign["segment_counts"][str(segment)] = count
        return self.get(campaign_id)

    def page_done(self, campaign_id: str, phase: str, page_key: str, recipients: int) -> int:
        pages = self.done.setdefault((campaign_id, phase), {})
        pages.setdefault(page_key, recipients)
        return len(pages)

    def phase_done(self, campaign_id: str, phase: str) -> dict:
        campaign = self.campaigns[campaign_id]
        campaign["phases_done"] = sorted({*campaign.get("phases_done", []), phase})
        return self.get(campaign_id)

    def mark_stage_started(self, campaign_id: str, stage: str) -> bool:
        started = self.campaigns[campaign_id].setdefault("stages_started", [])
        if stage in started:
            return False
        started.append(stage)
        return True

    def set_winner(self, campaign_id: str, winner: str) -> str:
        return self.campaigns[campaign_id].setdefault("winner", winner)

    def reserve_slot(self, campaign_id: str, seen: str | None, new: str) -> bool:
        campaign = self.campaigns[campaign_id]
        if campaign.get("next_slot") != seen:
            return False
        campaign["next_slot"] = new
        return True

    def note_throttle(self, campaign_id: str) -> None:
        campaign = self.campaigns[campaign_id]
        campaign["throttles"] = campaign.get("throttles", 0) + 1

    def park(self, campaign_id: str, key: str, kind: str, body) -> None:
        self.parked_items.setdefault(campaign_id, {})[key] = (kind, self._copy(body))

    def parked(self, campaign_id: str, after: str | None, limit: int):
        keys = sorted(k for k in self.parked_items.get(campaign_id, {}) if after is None or k > after)
        page = keys[:limit]
        items = [(key, *self.parked_items[campaign_id][key]) for key in page]
        return items, (page[-1] if len(keys) > limit else None)

    def unpark(self, campaign_id: str, key: str) -> None:
        self.parked_items.get(campaign_id, {}).pop(key, None)

    def has_parked(self, campaign_id: str) -> bool:
        return bool(self.parked_items.get(campaign_id))

    def hold_out(self, campaign_id: str, profile_ids: list[str], now: datetime) -> None:
        for profile_id in profile_ids:
            self.ledger[f"holdout#{campaign_id}#{profile_id}"] = {"profile_id": profile_id, "at": isoformat(now)}

    def converted(self, campaign_id: str, profile_ids: list[str]) -> set[str]:
        return {p for p in profile_ids if f"converted#{campaign_id}#{p}" in self.ledger}


class FakeDispatchQueue:
    def __init__(self) -> None:
        self.items: list[tuple[dict, int]] = []

    def enqueue(self, jobs: list[dict], delay_seconds: int = 0) -> None:
        self.items.extend((dict(job), delay_seconds) for job in jobs)


class FakeOneTimeSchedules:
    def __init__(self) -> None:
        self.items: dict[str, tuple[datetime, dict]] = {}

    def create(self, name: str, at: datetime, job: dict) -> None:
        self.items.setdefault(name, (at, dict(job)))

    def delete(self, name: str) -> None:
        self.items.pop(name, None)
