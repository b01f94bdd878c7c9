"""Small in-memory implementations of closedloop.ports for unit tests (fakes, not mocks)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from closedloop.clock import isoformat
from closedloop.errors import ProfileNotFound, ProviderThrottled
from closedloop.mail import OutgoingMail
from closedloop.ports import Activity, DueEntry, Link
from closedloop.profiles import Profile, ProfileWrite


class FakeProfiles:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}
        self.activities: set[str] = set()
        self._lock = threading.Lock()

    def upsert(
        self, write: ProfileWrite, now: datetime, birthday_due: str | None, idle_due: str
    ) -> tuple[Profile, bool]:
        created = write.profile_id not in self.items
        item = self.items.setdefault(write.profile_id, {"interests": {}, "created_at": isoformat(now)})
        item.update(
            email=write.email, status=write.status, attributes=dict(write.attributes), updated_at=isoformat(now)
        )
        item["birthday"] = birthday_due
        item["idle"] = item.get("idle") or idle_due if write.status == "subscribed" else None
        return self.get(write.profile_id), created

    def add(self, profile_id: str, status: str = "subscribed", email: str | None = None, **attributes) -> None:
        self.items[profile_id] = {
            "email": email or f"{profile_id}@example.net",
            "status": status,
            "attributes": attributes,
            "interests": {},
        }

    def get(self, profile_id: str) -> Profile | None:
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
        )

    def interests(self, profile_id: str) -> dict[str, int]:
        return dict(self.items[profile_id]["interests"])

    def record_activity(self, activity: Activity, idle_due: str | None, expires_at: int) -> bool:
        with self._lock:
            if activity.activity_id in self.activities:
                return False
            item = self.items.get(activity.profile_id)
            if item is None:
                raise ProfileNotFound(activity.profile_id)
            self.activities.add(activity.activity_id)
            for name, amount in activity.increments.items():
                item["interests"][name] = item["interests"].get(name, 0) + amount
            occurred = isoformat(activity.occurred_at)
            if idle_due and occurred > (item.get("last_activity_at") or ""):
                item["last_activity_at"], item["idle"] = occurred, idle_due
            return True

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

    def set_status(self, profile_id: str, status: str, now: datetime) -> bool:
        if profile_id not in self.items:
            return False
        self.items[profile_id]["status"] = status
        return True


class FakeLedger:
    def __init__(self) -> None:
        self.items: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _put_new(self, key: str, item: dict) -> bool:
        with self._lock:
            if key in self.items:
                return False
            self.items[key] = item
            return True

    def reserve_send(self, send_key: str, message_id: str, now: datetime) -> bool:
        return self._put_new(f"send#{send_key}", {"state": "reserved", "message_id": message_id})

    def release_send(self, send_key: str) -> None:
        self.items.pop(f"send#{send_key}", None)

    def mark_sent(self, send_key: str, provider_message_id: str, now: datetime) -> None:
        self.items[f"send#{send_key}"].update(state="sent", provider_message_id=provider_message_id)

    def claim_threshold(self, rule_id: str, profile_id: str, now: datetime) -> str:
        key = f"threshold#{rule_id}#{profile_id}"
        if self._put_new(key, {"state": "pending", "at": isoformat(now)}):
            return "claimed"
        item = self.items[key]
        return "published" if item["state"] == "published" else f"pending:{item['at']}"

    def mark_threshold_published(self, rule_id: str, profile_id: str) -> None:
        self.items[f"threshold#{rule_id}#{profile_id}"]["state"] = "published"

    def put_link_set(self, link_set: str, links: list[Link]) -> None:
        self._put_new(f"links#{link_set}", {"links": list(links)})

    def get_link_set(self, link_set: str) -> list[Link] | None:
        item = self.items.get(f"links#{link_set}")
        return item["links"] if item else None


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []
        self.throttle_next = 0
        self.fail_after_accepting = False

    def send(self, mail: OutgoingMail) -> str:
        if self.throttle_next:
            self.throttle_next -= 1
            raise ProviderThrottled("throttled")
        self.sent.append(mail)
        if self.fail_after_accepting:
            raise ConnectionError("the worker died after SES accepted the message")
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


__all__ = [
    "FakeProfiles",
    "FakeLedger",
    "FakeMailer",
    "FakePublisher",
    "FakeSendQueue",
    "FakeActivityQueue",
    "FlakyProfiles",
    "replace",
]
