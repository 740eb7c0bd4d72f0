"""Log-bucketed duration histograms: they merge exactly, and quantiles stay within 9.1 %.

Bucket 0 holds [0, 1 ms); bucket ``i`` (1 … ``TOP - 1``) holds
[1 ms · 2^((i-1)/8), 1 ms · 2^(i/8)), eight buckets per doubling up to 2^20 ms (about
17.5 minutes); bucket ``TOP`` holds everything longer. Because the bounds are fixed,
merging two histograms is adding counts, so rolling 10-second buckets up into minutes
and hours loses nothing. A quantile is interpolated geometrically inside the bucket that
holds its rank; the true value lies in the same bucket, so the estimate is off by at most
one bucket width: a factor of 2^(1/8), i.e. ``MAX_RELATIVE_ERROR`` ≈ 9.05 %. Below 1 ms
the error is at most 1 ms; above ``MAX_S`` the estimate is ``MAX_S``.

Histograms are sparse ``{bucket index: count}`` dicts: a 10-second bucket usually sees a
handful of distinct latencies, so most of the 162 buckets are empty.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

MIN_S = 0.001
PER_DOUBLING = 8
DOUBLINGS = 20
TOP = PER_DOUBLING * DOUBLINGS + 1
MAX_S = MIN_S * 2.0**DOUBLINGS
GROWTH = 2.0 ** (1 / PER_DOUBLING)
MAX_RELATIVE_ERROR = GROWTH - 1

Histogram = dict[int, int]


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


def observe(hist: Histogram, seconds: float) -> None:
    """Count one duration."""
    index = bucket_index(seconds)
    hist[index] = hist.get(index, 0) + 1


def merge_into(hist: Histogram, other: Histogram) -> None:
    """Add ``other``'s counts to ``hist`` (exact: the bounds are the same everywhere)."""
    for index, count in other.items():
        hist[index] = hist.get(index, 0) + count


def quantile(hist: Histogram, q: float) -> float | None:
    """The ``q``-quantile (0 < q ≤ 1) by nearest rank, interpolated; None when empty."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = q * total
    below = 0
    for index in sorted(hist):
        count = hist[index]
        if count and below + count >= rank:
            return _interpolate(index, max(rank - below, 0.0) / count)
        below += count
    return _interpolate(max(hist), 1.0)


def _interpolate(index: int, fraction: float) -> float:
    low, high = bucket_bounds(index)
    if index <= 0:
        return high * fraction
    if index >= TOP:
        return low
    return low * math.pow(high / low, fraction)


def encode(hist: Histogram) -> list[list[int]]:
    """The stored form: ``[[index, count], ...]`` sorted by index, empty buckets left out."""
    return [[index, hist[index]] for index in sorted(hist) if hist[index]]


def decode(pairs: Iterable[Iterable[int]]) -> Histogram:
    """Read the stored form back."""
    hist: Histogram = {}
    for index, count in pairs:
        hist[int(index)] = hist.get(int(index), 0) + int(count)
    return hist
