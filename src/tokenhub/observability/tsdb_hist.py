"""Log-bucketed duration histograms: they merge exactly, and quantiles stay within 9.1 %.

Bucket 0 holds [0, 1 ms); bucket ``i`` (1 … ``TOP - 1``) holds
[1 ms · 2^((i-1)/8), 1 ms · 2^(i/8)), eight buckets per doubling up to 2^20 ms (about
17.5 minutes); bucket ``TOP`` holds everything longer. Because the bounds are fixed,
merging two histograms is adding counts, so rolling 10-second buckets up into minutes
and hours loses nothing. A quantile is interpolated geometrically inside the bucket that
holds its rank; the true value lies in the same bucket, so the estimate is off by at most
one bucket width: a factor of 2^(1/8), i.e. ``MAX_RELATIVE_ERROR`` ≈ 9.05 %. Below 1 ms
the error is at most 1 ms; above ``MAX_S`` the estimate is ``MAX_S``.

A histogram keeps only the span of buckets between its lowest and highest non-empty one
(``lo`` and a dense ``counts`` list): LLM latencies of one series span a few dozen
buckets, and adding two spans is one C-level ``map`` rather than a loop per bucket,
which is what makes a day of minute buckets quick to chart.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from itertools import accumulate
from operator import add

MIN_S = 0.001
PER_DOUBLING = 8
DOUBLINGS = 20
TOP = PER_DOUBLING * DOUBLINGS + 1
MAX_S = MIN_S * 2.0**DOUBLINGS
GROWTH = 2.0 ** (1 / PER_DOUBLING)
MAX_RELATIVE_ERROR = GROWTH - 1


def bucket_index(seconds: float) -> int:
    """The bucket a duration falls in (negative and NaN count as 0, infinity as the top)."""
    if not seconds >= MIN_S:
        return 0
    if seconds >= MAX_S:
        return TOP
    return min(int(math.log2(seconds / MIN_S) * PER_DOUBLING) + 1, TOP - 1)


def bucket_bounds(index: int) -> tuple[float, float]:
    """The [low, high) seconds a bucket covers."""
    if index <= 0:
        return 0.0, MIN_S
    if index >= TOP:
        return MAX_S, math.inf
    return MIN_S * 2.0 ** ((index - 1) / PER_DOUBLING), MIN_S * 2.0 ** (index / PER_DOUBLING)


class Histogram:
    """Counts per bucket from bucket ``lo`` on; empty when ``counts`` is."""

    __slots__ = ("counts", "lo")

    def __init__(self, lo: int = 0, counts: list[int] | None = None) -> None:
        self.lo = lo
        self.counts = counts if counts is not None else []

    def observe(self, seconds: float) -> None:
        """Count one duration."""
        index = bucket_index(seconds)
        offset = index - self.lo
        if self.counts and 0 <= offset < len(self.counts):
            self.counts[offset] += 1
        else:
            self.merge(Histogram(index, [1]))

    def merge(self, other: Histogram) -> None:
        """Add ``other``'s counts (exact: the bounds are the same everywhere)."""
        if not other.counts:
            return
        if not self.counts:
            self.lo, self.counts = other.lo, other.counts.copy()
            return
        start = other.lo - self.lo
        end = start + len(other.counts)
        if start < 0 or end > len(self.counts):
            self._widen(min(self.lo, other.lo), max(self.lo + len(self.counts), self.lo + end))
            start = other.lo - self.lo
            end = start + len(other.counts)
        self.counts[start:end] = map(add, self.counts[start:end], other.counts)

    def _widen(self, lo: int, hi: int) -> None:
        counts = [0] * (hi - lo)
        counts[self.lo - lo : self.lo - lo + len(self.counts)] = self.counts
        self.lo, self.counts = lo, counts

    @property
    def total(self) -> int:
        """How many durations were counted."""
        return sum(self.counts)

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile (0 < q ≤ 1) by nearest rank, interpolated; None when empty."""
        cumulative = list(accumulate(self.counts))
        if not cumulative or cumulative[-1] == 0:
            return None
        rank = q * cumulative[-1]
        # The first bucket whose running count reaches the rank holds that sample.
        i = min(bisect_left(cumulative, rank), len(cumulative) - 1)
        below = cumulative[i] - self.counts[i]
        return _interpolate(self.lo + i, (rank - below) / self.counts[i])

    def as_dict(self) -> dict[int, int]:
        """``{bucket index: count}`` of the non-empty buckets."""
        return {self.lo + i: c for i, c in enumerate(self.counts) if c}

    def encode(self) -> list[int]:
        """The stored form: ``[lo, count, count, ...]``, or ``[]`` when empty."""
        return [self.lo, *self.counts] if self.counts else []

    @classmethod
    def decode(cls, data: list[int]) -> Histogram:
        """Read the stored form back."""
        return cls(data[0], data[1:]) if data else cls()

    def __eq__(self, other: object) -> bool:
        """Equal when every bucket holds the same count."""
        return isinstance(other, Histogram) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]  # unhashable on purpose: it is mutable

    def __repr__(self) -> str:
        """The non-empty buckets."""
        return f"Histogram({self.as_dict()})"


def _interpolate(index: int, fraction: float) -> float:
    low, high = bucket_bounds(index)
    if index <= 0:
        return high * fraction
    if index >= TOP:
        return low
    return low * math.pow(high / low, fraction)
