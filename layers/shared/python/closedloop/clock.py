"""Time, injected. Nothing in closedloop reads the wall clock except SystemClock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """A clock set to an instant that then keeps running; the local runtime's clock (POST /_local/clock)."""

    def __init__(self, base: Clock | None = None) -> None:
        self._base = base or SystemClock()
        self._offset = timedelta(0)

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware instant")
        self._offset = instant - self._base.now()

    def now(self) -> datetime:
        return self._base.now() + self._offset


class FixedClock:
    """A clock that stands still until moved; for tests."""

    def __init__(self, instant: datetime) -> None:
        self.instant = instant

    def now(self) -> datetime:
        return self.instant

    def advance(self, **delta: float) -> None:
        self.instant += timedelta(**delta)


def isoformat(instant: datetime) -> str:
    """The one timestamp format stored and returned: UTC, seconds, 'Z' suffix (sorts as text)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; naive values are refused because their zone is a guess."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("timestamp needs a time zone, e.g. 2026-11-22T09:00:00Z")
    return value.astimezone(UTC)
