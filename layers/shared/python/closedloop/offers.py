"""Offer pools: content beside the templates (offers/<pool>.toml), chosen for each recipient by their interests.

A pool is a list of `[[offers]]` tables (id, topic, title, text, url, image?, valid_from?, valid_until?, weight),
parsed strictly like config/closedloop.toml: a mistake is one sentence naming the file and the offer. A template
asks for the best of a pool with `offers("deals", 3)` (closedloop.adapters.templates): `choose` ranks the pool by
the recipient's interest counter for each offer's topic, then by weight, then by the order of the file, and leaves
out offers not valid at the send instant and those the person was already sent `[offers] max_per_person` times
(`Profile.offers_sent`, which the send gate adds to when the mail is marked sent).

Offer ids are unique across all pools: `offers_sent` counts by id alone.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from closedloop.config import COUNTER_NAME, load_config
from closedloop.errors import ConfigError, TemplateError

OFFERS_DIR = "offers"
POOL_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
OFFER_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# offers("deals", n): more than this in one mail is a mistake, not a digest.
MAX_PER_CALL = 20
FIELDS = {"id", "topic", "title", "text", "url", "image", "valid_from", "valid_until", "weight"}
REQUIRED = ("id", "topic", "title", "text", "url")
MAX_TITLE = 200
MAX_TEXT = 2000


class Offer(NamedTuple):
    id: str
    topic: str
    title: str
    text: str
    url: str
    image: str | None = None
    valid_from: datetime | None = None  # inclusive
    valid_until: datetime | None = None  # exclusive: a date means "through that day" (UTC)
    weight: float = 1

    def valid_at(self, now: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= now) and (
            self.valid_until is None or now < self.valid_until
        )


class OfferPools(NamedTuple):
    """Every pool of the content, and the per-person limit from the configuration."""

    pools: Mapping[str, tuple[Offer, ...]]
    max_per_person: int = 3

    def choose(
        self,
        pool: object,
        count: object,
        *,
        interests: Mapping[str, int],
        sent: Mapping[str, int],
        now: datetime,
    ) -> list[Offer]:
        """The `count` best offers of `pool` for one person at `now`; TemplateError for an unknown pool or count."""
        if not isinstance(pool, str) or pool not in self.pools:
            known = ", ".join(sorted(self.pools)) or "none"
            raise TemplateError(f"offers(): no offer pool named {str(pool)[:64]!r} in {OFFERS_DIR}/ (known: {known})")
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_PER_CALL:
            raise TemplateError(f"offers({pool!r}, n): n must be a whole number from 1 to {MAX_PER_CALL}")
        return rank(self.pools[pool], interests, sent, now, self.max_per_person)[:count]


def rank(
    offers: Sequence[Offer], interests: Mapping[str, int], sent: Mapping[str, int], now: datetime, max_per_person: int
) -> list[Offer]:
    """Valid offers the person has not had too often: by interest in the topic, then weight, then pool order."""
    eligible = [
        (position, offer)
        for position, offer in enumerate(offers)
        if offer.valid_at(now) and sent.get(offer.id, 0) < max_per_person
    ]
    eligible.sort(key=lambda pair: (-interests.get(pair[1].topic, 0), -pair[1].weight, pair[0]))
    return [offer for _, offer in eligible]


def _instant(value: object, where: str, key: str, *, end_of_day: bool) -> datetime:
    """A TOML date or offset date-time, or the same as ISO text; a date starts (or, as an end, closes) its UTC day."""
    shape = f'{where}: "{key}" must be a date (2026-12-31) or an instant (2026-12-31T18:00:00Z)'
    if isinstance(value, str):
        try:
            value = (
                date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value.replace("Z", "+00:00"))
            )
        except ValueError as error:
            raise ConfigError(shape) from error
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigError(f'{where}: "{key}" needs a time zone, e.g. 2026-12-31T18:00:00Z')
        return value.astimezone(UTC)
    if isinstance(value, date):
        start = datetime.combine(value, time(0), tzinfo=UTC)
        return start + timedelta(days=1) if end_of_day else start
    raise ConfigError(shape)


def _url(value: object, where: str, key: str) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/?#]+[^\s]*$", value) or "\x00" in value:
        raise ConfigError(f'{where}: "{key}" must be an absolute http(s) URL')
    return value


def _text(value: object, where: str, key: str, limit: int, *, one_line: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f'{where}: "{key}" must be text')
    if len(value) > limit or (one_line and len(value.splitlines()) > 1) or "\x00" in value:
        shape = "one line of" if one_line else "text of"
        raise ConfigError(f'{where}: "{key}" must be {shape} at most {limit} characters')
    return value


def parse_offer(data: object, where: str, topics: frozenset[str]) -> Offer:
    """One [[offers]] table; `where` names the file and the offer in every sentence."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ConfigError(f'{where}: unknown key "{unknown[0]}" (known: {", ".join(sorted(FIELDS))})')
    missing = [key for key in REQUIRED if key not in data]
    if missing:
        raise ConfigError(f'{where} needs "{missing[0]}"')
    offer_id = data["id"]
    if not isinstance(offer_id, str) or not OFFER_ID.match(offer_id):
        raise ConfigError(f'{where}: "id" must look like "reef-21-days" (a-z, 0-9, _ or -, at most 64)')
    where = f"{where} {offer_id!r}"
    topic = data["topic"]
    if not isinstance(topic, str) or topic not in topics or not COUNTER_NAME.match(topic):
        known = ", ".join(sorted(topics)) or "none"
        raise ConfigError(
            f'{where}: "topic" must be a configured [[topics]] id or interest counter name (known: {known})'
        )
    weight = data.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight) or weight < 0:
        raise ConfigError(f'{where}: "weight" must be a number >= 0')
    valid_from = _instant(data["valid_from"], where, "valid_from", end_of_day=False) if "valid_from" in data else None
    valid_until = (
        _instant(data["valid_until"], where, "valid_until", end_of_day=True) if "valid_until" in data else None
    )
    if valid_from and valid_until and valid_from >= valid_until:
        raise ConfigError(f'{where}: "valid_until" must be later than "valid_from"')
    return Offer(
        id=offer_id,
        topic=topic,
        title=_text(data["title"], where, "title", MAX_TITLE, one_line=True),
        text=_text(data["text"], where, "text", MAX_TEXT, one_line=False),
        url=_url(data["url"], where, "url"),
        image=_url(data["image"], where, "image") if "image" in data else None,
        valid_from=valid_from,
        valid_until=valid_until,
        weight=weight,
    )


def parse_pool(name: str, data: dict, topics: frozenset[str]) -> tuple[Offer, ...]:
    """A pool file's TOML document: [[offers]] tables and nothing else."""
    file = f"{OFFERS_DIR}/{name}.toml"
    unknown = sorted(set(data) - {"offers"})
    if unknown:
        raise ConfigError(f'{file}: unknown section "{unknown[0]}" (a pool holds [[offers]] tables only)')
    offers_data = data.get("offers")
    if not isinstance(offers_data, list) or not offers_data:
        raise ConfigError(f"{file}: a pool needs at least one [[offers]] table")
    offers = tuple(parse_offer(item, f"{file}: offer {n}", topics) for n, item in enumerate(offers_data, 1))
    seen: set[str] = set()
    for offer in offers:
        if offer.id in seen:
            raise ConfigError(f"{file}: offer id {offer.id!r} is used twice")
        seen.add(offer.id)
    return offers


def read_pools(offers_dir: Path, topics: frozenset[str], max_per_person: int = 3) -> OfferPools:
    """Every offers/<pool>.toml of a folder (none: no pools); ConfigError names the first problem."""
    pools: dict[str, tuple[Offer, ...]] = {}
    owner: dict[str, str] = {}
    files = sorted(offers_dir.iterdir()) if offers_dir.is_dir() else []
    for path in files:
        if path.is_dir() or path.name.startswith("."):
            continue
        if path.suffix != ".toml" or not POOL_NAME.match(path.stem):
            raise ConfigError(f"{OFFERS_DIR}/{path.name}: a pool is a file named like deals.toml (a-z, 0-9, _ or -)")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{OFFERS_DIR}/{path.name} is not valid TOML: {error}") from error
        pools[path.stem] = parse_pool(path.stem, data, topics)
        for offer in pools[path.stem]:
            if offer.id in owner:
                raise ConfigError(
                    f"{OFFERS_DIR}/{path.name}: offer id {offer.id!r} is already used in {OFFERS_DIR}/{owner[offer.id]}"
                    " (ids are unique across pools: what a person was sent is counted by id)"
                )
            owner[offer.id] = path.name
    return OfferPools(pools, max_per_person)


@lru_cache(maxsize=4)
def load_pools(content_dir: Path) -> OfferPools:
    """The content's pools, checked against its configuration (topics, counters, the per-person limit)."""
    config = load_config(content_dir)
    topics = frozenset(config.topic_ids) | {rule.counter for rule in config.thresholds}
    return read_pools(Path(content_dir) / OFFERS_DIR, topics, config.offers.max_per_person)
