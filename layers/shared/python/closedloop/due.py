"""The due indexes' keys: which shard an entry lives in, and when silence falls due.

The scheduled checks never scan. Each profile that can fall due carries, per check, a shard key and a due instant;
the profiles table's sparse indexes `birthday_due` and `idle_due` hold only those profiles, spread over DUE_SHARDS
partitions (one partition takes ~1,000 writes/s). A check queries every shard for "due <= now". The index that
finds silent profiles for the we-miss-you check is the idle index (`idle_shard`, `idle_due_at`); the birthday
index's shard keys start with `bday`.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from closedloop.clock import isoformat

if TYPE_CHECKING:
    from closedloop.config import Config

DUE_SHARDS = 8


def shard_of(profile_id: str, kind: str) -> str:
    """Stable shard key for a due index: spreads writes and queries over DUE_SHARDS partitions."""
    return f"{kind}#{zlib.crc32(profile_id.encode()) % DUE_SHARDS}"


def all_shards(kind: str) -> list[str]:
    return [f"{kind}#{n}" for n in range(DUE_SHARDS)]


def idle_due_at(last_activity: datetime, config: Config) -> str:
    """When silence since `last_activity` becomes long enough for we-miss-you."""
    return isoformat(last_activity + timedelta(days=config.we_miss_you.inactive_days))
