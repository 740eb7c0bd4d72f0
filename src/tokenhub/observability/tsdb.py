"""The embedded time-series store's in-memory side: 10-second buckets per (model, provider).

``Tsdb.record`` adds one finished request to the open bucket of its series: a few
additions and one histogram increment, no I/O, no await, no lock (one event loop owns
it). ``seal`` hands back the buckets whose 10 seconds are over, for ``store.tsdb_store``
to persist; ``drain`` hands back everything (shutdown). Buckets of any resolution share
one shape, ``Stats``, whose every field merges exactly, so rolling 10-second buckets up
into minutes and hours (``rollup``) is addition. Queries live in ``tsdb_query``.

Why not an external TSDB: tokenhub is one self-contained process, and these series are
few (models times providers) and fixed in shape, so a server to run would cost more than it
gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tokenhub.clock import Clock
from tokenhub.config import TsdbSettings
from tokenhub.observability.tsdb_hist import Histogram

RAW_S = 10
MINUTE_S = 60
HOUR_S = 3600
TIERS = (RAW_S, MINUTE_S, HOUR_S)
TIER_NAMES = {RAW_S: "10s", MINUTE_S: "1m", HOUR_S: "1h"}


@dataclass(slots=True)
class Stats:
    """What one series did during one bucket; every field merges by addition."""

    count: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency: Histogram = field(default_factory=Histogram)
    ttft: Histogram = field(default_factory=Histogram)

    def merge(self, other: Stats, *, latency: bool = True, ttft: bool = True) -> None:
        """Add ``other`` into this one (a query may skip a histogram it does not read)."""
        self.count += other.count
        self.errors += other.errors
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd
        if latency:
            self.latency.merge(other.latency)
        if ttft:
            self.ttft.merge(other.ttft)


@dataclass(slots=True)
class Bucket:
    """One series' ``Stats`` over [ts, ts + tier) seconds; ``tier`` is the resolution."""

    tier: int
    ts: float
    model: str
    provider: str
    stats: Stats


def retention_s(settings: TsdbSettings, tier: int) -> float:
    """How long buckets of a resolution are kept."""
    return {
        RAW_S: settings.raw_retention_s,
        MINUTE_S: settings.minute_retention_s,
        HOUR_S: settings.hour_retention_s,
    }[tier]


def floor_to(ts: float, step: float) -> float:
    """The start of the ``step``-wide window (aligned to the epoch) holding ``ts``."""
    return ts - ts % step


def rollup(buckets: Iterable[Bucket], tier: int) -> list[Bucket]:
    """Merge finer buckets into ``tier``-wide ones, one per (window, model, provider)."""
    merged: dict[tuple[float, str, str], Stats] = {}
    for bucket in buckets:
        key = (floor_to(bucket.ts, tier), bucket.model, bucket.provider)
        stats = merged.get(key)
        if stats is None:
            stats = merged[key] = Stats()
        stats.merge(bucket.stats)
    return [
        Bucket(tier, ts, model, provider, stats) for (ts, model, provider), stats in merged.items()
    ]


class Tsdb:
    """The open 10-second buckets of every series, fed by ``record`` on the request path."""

    def __init__(self, clock: Clock, settings: TsdbSettings) -> None:
        self.clock = clock
        self.settings = settings
        self._open: dict[tuple[float, str, str], Stats] = {}

    def record(
        self,
        model: str,
        provider: str,
        *,
        ok: bool,
        latency_s: float,
        ttft_s: float | None,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float,
    ) -> None:
        """Count one finished request in its series' current bucket (O(1), never blocks)."""
        now = self.clock.time()
        key = (now - now % RAW_S, model, provider)
        stats = self._open.get(key)
        if stats is None:
            stats = self._open[key] = Stats()
        stats.count += 1
        if not ok:
            stats.errors += 1
        stats.input_tokens += input_tokens
        stats.output_tokens += output_tokens
        stats.cost_usd += cost_usd
        stats.latency.observe(latency_s)
        if ttft_s is not None:
            stats.ttft.observe(ttft_s)

    def seal(self, now: float | None = None) -> list[Bucket]:
        """Remove and return the buckets whose window has ended by ``now`` (default: the clock)."""
        cutoff = floor_to(self.clock.time() if now is None else now, RAW_S)
        done = [key for key in self._open if key[0] < cutoff]
        return [Bucket(RAW_S, *key, self._open.pop(key)) for key in done]

    def drain(self) -> list[Bucket]:
        """Remove and return every bucket, finished or not (on shutdown)."""
        buckets = [Bucket(RAW_S, *key, stats) for key, stats in self._open.items()]
        self._open = {}
        return buckets

    def open_buckets(self) -> list[Bucket]:
        """The buckets not handed out yet; their ``Stats`` are live, so read them at once."""
        return [Bucket(RAW_S, *key, stats) for key, stats in self._open.items()]
