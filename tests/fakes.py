"""Small in-memory implementations of closedloop.ports for unit tests (fakes, not mocks).

tests/integration/test_store_contract.py runs the same behaviour tests against these and the DynamoDB adapters,
so the two cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

from closedloop.clock import isoformat
from closedloop.errors import ConcurrentUpdate, EmailTaken, ProfileNotFound, ProviderThrottled
from closedloop.mail import OutgoingMail
from closedloop.ports import Activity, DueEntry, Link, MessageStatus
from closedloop.profiles import Profile, ProfileChange


class FakeProfiles:
    """A ProfileStore and the ActivityLog of the same profiles."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}
        self.activities: set[str] = set()
        self.claims: dict[str, str] = {}  # normalised address -> profile id

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

    def interests(self, profile_id: str) -> dict[str, int]:
        return dict(self.items[profile_id]["interests"])

    def record_activity(self, activity: Activity, idle_due: str | None, expires_at: int) -> bool:
        key = f"{activity.profile_id}|{activity.kind}#{activity.activity_id}"
        if key in self.activities:
            return False
        item = self.items.get(activity.profile_id)
        if item is None:
            raise ProfileNotFound(activity.profile_id)
        self.activities.add(key)
        for name, amount in activity.increments.items():
            item["interests"][name] = item["interests"].get(name, 0) + amount
        occurred = isoformat(activity.occurred_at)
        self._aggregate(item, activity.aggregates, occurred)
        if activity.moves_last_activity and idle_due and occurred >= (item.get("last_activity_at") or ""):
            item["last_activity_at"] = occurred
            if item["status"] == "subscribed":
                item["idle"] = idle_due
        return True

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


class FakeLedger:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def _put_new(self, key: str, item: dict) -> bool:
        if key in self.items:
            return False
        self.items[key] = item
        return True

    def reserve_send(self, send_key: str, message_id: str, now: datetime) -> bool:
        return self._put_new(f"send#{send_key}", {"state": "reserved", "message_id": message_id})

    def release_send(self, send_key: str) -> None:
        if self.items.get(f"send#{send_key}", {}).get("state") == "reserved":
            del self.items[f"send#{send_key}"]

    def mark_sent(self, send_key: str, status: MessageStatus) -> None:
        self._finish(send_key, "sent", status)

    def mark_possibly_sent(self, send_key: str, status: MessageStatus) -> None:
        self._finish(send_key, "possibly_sent", status)

    def _finish(self, send_key: str, state: str, status: MessageStatus) -> None:
        self.items[f"send#{send_key}"].update(state=state, provider_message_id=status.provider_message_id)
        self.put_message_status(status)

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
        if self._put_new(key, {"state": "pending", "at": isoformat(now)}):
            return "claimed"
        item = self.items[key]
        return "published" if item["state"] == "published" else f"pending:{item['at']}"

    def mark_threshold_published(self, rule_id: str, profile_id: str) -> None:
        self.items[f"threshold#{rule_id}#{profile_id}"]["state"] = "published"


class FakeLinkSets:
    def __init__(self) -> None:
        self.items: dict[str, list[Link]] = {}

    def put(self, link_set: str, links: list[Link]) -> None:
        self.items.setdefault(link_set, list(links))

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


class FakeActivityQueue:
    def __init__(self, broken: bool = False) -> None:
        self.items: list[Activity] = []
        self.broken = broken

    def enqueue(self, activity: Activity) -> None:
        if self.broken:
            raise ConnectionError("SQS unreachable")
        self.items.append(activity)


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

    def snapshot(self, addresses: set[str], profile_ids: set[str]):
        from closedloop.imports import Snapshot

        claims = {a: self.profiles.claims[a] for a in addresses if a in self.profiles.claims}
        wanted = {*profile_ids, *claims.values()}
        found = {pid: self.profiles.get(pid) for pid in wanted if pid in self.profiles.items}
        return Snapshot(claims, found, {a: self.suppressions.get(a) for a in addresses})

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
