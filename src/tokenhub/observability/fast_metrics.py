"""Lock-free counters, gauges and histograms for the request path, exported by a collector.

prometheus-client guards every update with a lock and re-validates labels on each
``labels()`` call: a few microseconds per update, a dozen updates per request. Tokenhub
updates its request-path metrics from one event-loop thread, so plain attribute
arithmetic is safe; the values are turned into Prometheus families only when scraped.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector


class CounterChild:
    """One labelled counter value."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (non-negative)."""
        self.value += amount


class HistogramChild:
    """One labelled histogram: per-bucket counts and the sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value


class _Family:
    def __init__(self, name: str, doc: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.doc = doc
        self.labelnames = list(labelnames)


class FastCounter(_Family):
    """A counter family; ``labels(...)`` children are cached."""

    def __init__(self, name: str, doc: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name.removesuffix("_total"), doc, labelnames)
        self._children: dict[tuple[str, ...], CounterChild] = {}

    def labels(self, *values: str) -> CounterChild:
        """The child for these label values."""
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = CounterChild()
        return child

    def inc(self, amount: float = 1.0) -> None:
        """Increment the unlabelled counter."""
        self.labels().inc(amount)

    def family(self) -> Metric:
        """The Prometheus family as of now."""
        family = CounterMetricFamily(self.name, self.doc, labels=self.labelnames)
        for values, child in self._children.items():
            family.add_metric(list(values), child.value)
        return family


class FastHistogram(_Family):
    """A histogram family with fixed bucket bounds."""

    def __init__(
        self, name: str, doc: str, labelnames: Sequence[str], buckets: Sequence[float]
    ) -> None:
        super().__init__(name, doc, labelnames)
        self.bounds = tuple(float(b) for b in buckets)
        self._children: dict[tuple[str, ...], HistogramChild] = {}

    def labels(self, *values: str) -> HistogramChild:
        """The child for these label values."""
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = HistogramChild(self.bounds)
        return child

    def observe(self, value: float) -> None:
        """Observe into the unlabelled histogram."""
        self.labels().observe(value)

    def family(self) -> Metric:
        """The Prometheus family (cumulative buckets) as of now."""
        family = HistogramMetricFamily(self.name, self.doc, labels=self.labelnames)
        for values, child in self._children.items():
            running, buckets = 0, []
            for bound, count in zip((*self.bounds, math.inf), child.counts, strict=True):
                running += count
                buckets.append(("+Inf" if math.isinf(bound) else repr(bound), running))
            family.add_metric(list(values), buckets, child.sum)
        return family


class FastGauge(_Family):
    """An unlabelled gauge."""

    def __init__(self, name: str, doc: str) -> None:
        super().__init__(name, doc, ())
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add to the gauge."""
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        """Subtract from the gauge."""
        self.value -= amount

    def family(self) -> Metric:
        """The Prometheus family as of now."""
        return GaugeMetricFamily(self.name, self.doc, value=self.value)


class FastCollector(Collector):
    """Exposes a set of fast metrics on a registry."""

    def __init__(self, metrics: Iterable[FastCounter | FastHistogram | FastGauge]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        """One family per metric."""
        return [metric.family() for metric in self._metrics]

    def describe(self) -> Iterable[Metric]:
        """Nothing up front (families are built at scrape time)."""
        return []
