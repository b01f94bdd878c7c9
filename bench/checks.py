"""Items the birthday and we-miss-you checks read, against the profiles actually due (target <= 1.1)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import boto3

from bench.counting import counting
from bench.world import context, embedded_aws
from closedloop import services
from closedloop.clock import isoformat
from closedloop.due import idle_due_at, shard_of
from closedloop.profiles import ProfileWrite, birthday_due_at
from closedloop.schedules import now_key
from closedloop_local import lambdas
from infra import wiring

NOW = datetime(2026, 6, 15, 12, tzinfo=UTC)
ZONES = ("Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")


def _items(count: int, rng: random.Random) -> list[dict]:
    # The state an hourly check leaves behind: every entry was moved on at most an hour ago.
    config, created = services.config(), NOW - timedelta(hours=1)
    items = []
    for n in range(count):
        profile_id = f"p-{n:06}"
        birthday = (datetime(1990, 1, 1) + timedelta(days=rng.randrange(365))).date().isoformat()
        if rng.random() < 0.01:
            birthday = "1985-06-15"
        write = ProfileWrite(
            profile_id,
            f"{profile_id}@example.net",
            "subscribed",
            {"first_name": "A", "birthday": birthday, "timezone": rng.choice(ZONES)},
        )
        active = NOW - timedelta(days=61 if rng.random() < 0.02 else rng.randrange(59))
        item = {
            "profile_id": profile_id,
            "email": write.email,
            "status": "subscribed",
            "attributes": write.attributes,
            "interests": {},
            "created_at": isoformat(created),
            "bday_shard": shard_of(profile_id, "bday"),
            "bday_due_at": birthday_due_at(write, config, created),
            "idle_shard": shard_of(profile_id, "idle"),
            "idle_due_at": idle_due_at(active, config),
            "last_activity_at": isoformat(active),
        }
        items.append(item)
    return items


def _load(table: str, items: list[dict]) -> None:
    resource = boto3.resource("dynamodb")
    with resource.Table(table).batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)


def measure_at(count: int) -> dict:
    with embedded_aws(NOW) as (resources, _clock):
        items = _items(count, random.Random(count))
        _load(resources.tables["profiles"], items)
        bound = now_key(NOW)
        figures = {"profiles": count}
        for function, attribute, name in (
            (wiring.BIRTHDAY, "bday_due_at", "birthday"),
            (wiring.WE_MISS_YOU, "idle_due_at", "we_miss_you"),
        ):
            due = sum(1 for item in items if item[attribute] <= bound)
            with counting() as (requests, read):
                report = lambdas.load_handler(function)({"schedule": function.schedule.name}, context(function))
            items_read = sum(read.values())
            figures[name] = {
                "due": due,
                "enqueued": report["enqueued"],
                "items_read": items_read,
                "queries": requests.get("dynamodb.Query", 0),
                "items_read_per_due": round(items_read / due, 3) if due else None,
            }
        return figures


def measure() -> dict:
    return {str(count): measure_at(count) for count in (1_000, 50_000)}
