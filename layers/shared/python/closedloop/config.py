"""The marketers' configuration (config/closedloop.toml in the content layer), parsed once into typed values."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from closedloop.errors import InvalidInput

COUNTER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class ThresholdRule(NamedTuple):
    id: str
    counter: str
    at: int
    template: str


class BirthdayConfig(NamedTuple):
    template: str = "birthday"
    local_hour: int = 9
    default_timezone: str = "Europe/Berlin"
    catch_up_days: int = 3


class WeMissYouConfig(NamedTuple):
    template: str = "we-miss-you"
    inactive_days: int = 60


class Config(NamedTuple):
    thresholds: tuple[ThresholdRule, ...]
    birthday: BirthdayConfig
    we_miss_you: WeMissYouConfig
    activity_retention_days: int = 400


def parse_config(data: dict) -> Config:
    """Validate the TOML document; a mistake is reported with the offending key, at deploy or start time."""
    try:
        rules = tuple(ThresholdRule(**rule) for rule in data.get("thresholds", []))
        birthday = BirthdayConfig(**data.get("birthday", {}))
        we_miss_you = WeMissYouConfig(**data.get("we_miss_you", {}))
        tracking = data.get("tracking", {})
    except TypeError as error:
        raise InvalidInput(f"config: {error}") from error
    ids = [rule.id for rule in rules]
    if len(ids) != len(set(ids)):
        raise InvalidInput("config: threshold ids must be unique")
    for rule in rules:
        if not COUNTER_NAME.match(rule.counter) or rule.at < 1:
            raise InvalidInput(f"config: threshold {rule.id!r} needs a counter name like 'travel' and at >= 1")
    if not 0 <= birthday.local_hour <= 23:
        raise InvalidInput("config: birthday.local_hour must be 0..23")
    try:
        ZoneInfo(birthday.default_timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidInput(f"config: unknown time zone {birthday.default_timezone!r}") from error
    if we_miss_you.inactive_days < 1:
        raise InvalidInput("config: we_miss_you.inactive_days must be >= 1")
    return Config(
        thresholds=rules,
        birthday=birthday,
        we_miss_you=we_miss_you,
        activity_retention_days=int(tracking.get("activity_retention_days", 400)),
    )


@lru_cache(maxsize=4)
def load_config(content_dir: Path) -> Config:
    with open(content_dir / "config" / "closedloop.toml", "rb") as file:
        return parse_config(tomllib.load(file))
