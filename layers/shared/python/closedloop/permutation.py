"""A keyed pseudo-random permutation of [0, n): who of a campaign's audience lands in its A/B test groups.

Each recipient has a position (audience segment, page, index within the page: closedloop.dispatch). `Permutation`
maps positions one to one onto [0, n) with a four-round Feistel network on the smallest even-bit domain that holds
n, walking the cycle until the value falls inside [0, n) (cycle-walking keeps it a bijection on [0, n)). The round
function is HMAC-SHA256 keyed by the campaign id, so the groups are fixed per campaign, computed for one position at
a time (no list of n entries is ever built) and exactly sized: the first round(test_share * n) permuted positions
are the test group, the next round(holdout_share * n) the holdout, the rest wait for the winner.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import NamedTuple

ROUNDS = 4


class Permutation:
    def __init__(self, key: str, size: int) -> None:
        if size < 0:
            raise ValueError("size must be >= 0")
        self.size = size
        bits = max(2, (max(size - 1, 1)).bit_length())
        bits += bits % 2  # two halves of equal width
        self._half = bits // 2
        self._mask = (1 << self._half) - 1
        self._keys = [hmac.new(key.encode(), f"round{r}".encode(), hashlib.sha256).digest() for r in range(ROUNDS)]

    def _round(self, r: int, value: int) -> int:
        digest = hmac.new(self._keys[r], value.to_bytes(8, "big"), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") & self._mask

    def _encrypt(self, value: int) -> int:
        left, right = value >> self._half, value & self._mask
        for r in range(ROUNDS):
            left, right = right, left ^ self._round(r, right)
        return (left << self._half) | right

    def __call__(self, position: int) -> int:
        """The permuted position of `position` (0 <= position < size)."""
        if not 0 <= position < self.size:
            raise ValueError(f"position {position} outside [0, {self.size})")
        value = self._encrypt(position)
        while value >= self.size:  # cycle-walking: the domain is at most 4 n, so about 2-4 steps on average
            value = self._encrypt(value)
        return value


class Groups(NamedTuple):
    """How an audience of `size` splits: `test` people across the variants, `holdout` people, the rest."""

    size: int
    test: int
    holdout: int

    @classmethod
    def of(cls, size: int, test_share: float | None, holdout_share: float | None) -> Groups:
        test = round(test_share * size) if test_share is not None else size
        holdout = round((holdout_share or 0) * size)
        return cls(size, test, min(holdout, size - test))

    def group(self, permuted: int, variants: int) -> tuple[str, int | None]:
        """("test", variant index) | ("holdout", None) | ("rest", None) for a permuted position."""
        if permuted < self.test:
            return "test", permuted % variants  # round-robin: the test group splits evenly
        if permuted < self.test + self.holdout:
            return "holdout", None
        return "rest", None
