"""Queries over TSDB buckets: which resolution answers, and each metric's value per step.

``plan_query`` picks the resolution (tier) from the range and the step: the finest tier
still holding ``start`` (10 s within ``raw_retention_s``, then 1 min, then 1 h) sets
the smallest step; the step is rounded up to a multiple of it, and the coarsest tier
dividing the step is read (fewest rows). ``evaluate`` merges the buckets falling in each
step-wide window (aligned to the epoch) and computes the metric from the merged
``Stats``: exact for counts and sums, within ``tsdb_hist.MAX_RELATIVE_ERROR`` for
percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from tokenhub.config import TsdbSettings
from tokenhub.errors import InvalidRequestError
from tokenhub.observability.tsdb import TIERS, Bucket, Stats, floor_to, retention_s

Group = Literal["series", "model", "provider", "none"]
MAX_POINTS = 10_000
TARGET_POINTS = 360
NICE_STEPS = (10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400)
EMPTY = Stats()


@dataclass(frozen=True, slots=True)
class MetricDef:
    """A metric the query API serves: its unit, meaning, and value from a window's Stats."""

    unit: str
    description: str
    value: Callable[[Stats, float], float | None]
    histogram: Literal["latency", "ttft"] | None = None  # the one it reads, if any


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pct(unit: str, description: str, q: float, histogram: Literal["latency", "ttft"]) -> MetricDef:
    if histogram == "ttft":
        return MetricDef(unit, description, lambda s, _step: s.ttft.quantile(q), "ttft")
    return MetricDef(unit, description, lambda s, _step: s.latency.quantile(q), "latency")


METRICS: dict[str, MetricDef] = {
    "requests": MetricDef("1/s", "Requests per second.", lambda s, step: s.count / step),
    "errors": MetricDef("1/s", "Failed requests per second.", lambda s, step: s.errors / step),
    "error_rate": MetricDef(
        "ratio",
        "Failed / all requests (null without requests).",
        lambda s, _step: _ratio(s.errors, s.count),
    ),
    "latency_p50": _pct("s", "Median request latency.", 0.50, "latency"),
    "latency_p95": _pct("s", "95th percentile request latency.", 0.95, "latency"),
    "latency_p99": _pct("s", "99th percentile request latency.", 0.99, "latency"),
    "ttft_p50": _pct("s", "Median time to first token (streams).", 0.50, "ttft"),
    "ttft_p95": _pct("s", "95th percentile time to first token.", 0.95, "ttft"),
    "input_tokens": MetricDef(
        "tokens/s", "Input tokens per second.", lambda s, step: s.input_tokens / step
    ),
    "output_tokens": MetricDef(
        "tokens/s", "Output tokens per second.", lambda s, step: s.output_tokens / step
    ),
    "tokens": MetricDef(
        "tokens/s",
        "Input plus output tokens per second.",
        lambda s, step: (s.input_tokens + s.output_tokens) / step,
    ),
    "cost_usd": MetricDef("USD", "Cost per step (a sum, not a rate).", lambda s, _step: s.cost_usd),
}


@dataclass(frozen=True, slots=True)
class Plan:
    """What a query reads and returns: ``tier`` buckets, points every ``step`` in [start, end)."""

    tier: int
    step: int
    start: float
    end: float

    @property
    def points(self) -> int:
        """How many points each series has."""
        return math.ceil((self.end - self.start) / self.step)


@dataclass(slots=True)
class Series:
    """One line of a chart: ``None`` for model or provider means "all of them"."""

    model: str | None
    provider: str | None
    points: list[tuple[float, float | None]] = field(default_factory=list)


def finest_tier(start: float, now: float, settings: TsdbSettings) -> int:
    """The finest resolution still kept at ``start``."""
    for tier in TIERS:
        if start >= now - retention_s(settings, tier):
            return tier
    return TIERS[-1]


def plan_query(
    start: float, end: float, step: float | None, now: float, settings: TsdbSettings
) -> Plan:
    """Choose tier and step for [start, end); a bad range or step is a 400 naming it."""
    if end <= start:
        raise InvalidRequestError("to: must be after from", param="to")
    finest = finest_tier(start, now, settings)
    if step is None:
        wanted = max(finest, (end - start) / TARGET_POINTS)
        step = next((s for s in NICE_STEPS if s >= wanted), math.ceil(wanted / 86_400) * 86_400)
    step = max(1, math.ceil(step / finest)) * finest
    tier = max(t for t in TIERS if t >= finest and step % t == 0)
    plan = Plan(tier, step, floor_to(start, step), end)
    if plan.points > MAX_POINTS:
        raise InvalidRequestError(
            f"step: {step:g} s gives {plan.points} points; at most {MAX_POINTS}", param="step"
        )
    return plan


def _group_key(bucket: Bucket, group: Group) -> tuple[str | None, str | None]:
    model = bucket.model if group in {"series", "model"} else None
    provider = bucket.provider if group in {"series", "provider"} else None
    return model, provider


class Evaluation:
    """``metric`` over ``plan``, fed buckets of any resolution dividing the step, in slices."""

    def __init__(
        self,
        metric: str,
        plan: Plan,
        *,
        model: str | None = None,
        provider: str | None = None,
        group: Group = "series",
    ) -> None:
        self.definition = METRICS[metric]
        self.plan = plan
        self.model = model
        self.provider = provider
        self.group = group
        self._windows: dict[tuple[str | None, str | None], dict[int, Stats]] = {}

    def add(self, buckets: Iterable[Bucket]) -> None:
        """Merge buckets into their series' step-wide windows (others are skipped)."""
        plan, histogram = self.plan, self.definition.histogram
        latency, ttft = histogram == "latency", histogram == "ttft"
        for bucket in buckets:
            if self.model is not None and bucket.model != self.model:
                continue
            if self.provider is not None and bucket.provider != self.provider:
                continue
            if not plan.start <= bucket.ts < plan.end:
                continue
            series = self._windows.setdefault(_group_key(bucket, self.group), {})
            index = int((bucket.ts - plan.start) // plan.step)
            series.setdefault(index, Stats()).merge(bucket.stats, latency=latency, ttft=ttft)

    def series(self) -> list[Series]:
        """One series per group key, a point per window (0 or null where nothing happened)."""
        plan, value = self.plan, self.definition.value
        windows = self._windows
        if self.group == "none" and not windows:
            windows = {(None, None): {}}
        result = []
        for (model, provider), by_index in sorted(windows.items(), key=_sort_key):
            points = [
                (plan.start + i * plan.step, value(by_index.get(i, EMPTY), plan.step))
                for i in range(plan.points)
            ]
            result.append(Series(model or self.model, provider or self.provider, points))
        return result


def evaluate(
    metric: str,
    buckets: Iterable[Bucket],
    plan: Plan,
    *,
    model: str | None = None,
    provider: str | None = None,
    group: Group = "series",
) -> list[Series]:
    """Series of ``metric`` over ``plan`` from buckets of any resolution dividing the step."""
    evaluation = Evaluation(metric, plan, model=model, provider=provider, group=group)
    evaluation.add(buckets)
    return evaluation.series()


def _sort_key(item: tuple[tuple[str | None, str | None], object]) -> tuple[str, str]:
    (model, provider), _ = item
    return model or "", provider or ""
