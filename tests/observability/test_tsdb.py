"""The TSDB's memory side: bucketing, rollups, percentile bounds, query plans and metrics."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenhub.clock import FakeClock
from tokenhub.config import TsdbSettings
from tokenhub.errors import InvalidRequestError
from tokenhub.observability.tsdb import Bucket, Stats, Tsdb, rollup
from tokenhub.observability.tsdb_hist import (
    MAX_RELATIVE_ERROR,
    MAX_S,
    MIN_S,
    TOP,
    Histogram,
    bucket_bounds,
    bucket_index,
)
from tokenhub.observability.tsdb_query import METRICS, evaluate, plan_query

T0 = 1_699_999_200.0  # a whole hour, so minute and hour windows start here too
DAY = 86_400.0


def tsdb_at(offset: float = 0.0) -> tuple[Tsdb, FakeClock]:
    """A Tsdb on a fake clock at T0 + offset."""
    clock = FakeClock(T0 + offset)
    return Tsdb(clock, TsdbSettings()), clock


def record(
    tsdb: Tsdb,
    clock: FakeClock,
    at: float,
    model: str = "m1",
    provider: str = "p1",
    *,
    ok: bool = True,
    latency: float = 0.1,
    ttft: float | None = None,
    tokens: tuple[int, int] = (0, 0),
    cost: float = 0.0,
) -> None:
    """Record one request at T0 + at."""
    clock.now = T0 + at
    tsdb.record(
        model,
        provider,
        ok=ok,
        latency_s=latency,
        ttft_s=ttft,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_usd=cost,
    )


def nearest_rank(samples: list[float], q: float) -> float:
    """The true q-quantile by nearest rank."""
    ordered = sorted(samples)
    return ordered[max(math.ceil(q * len(ordered)), 1) - 1]


def within_bound(estimate: float | None, true: float) -> bool:
    """Whether an estimate is within the documented percentile error of the true value."""
    assert estimate is not None
    if true < MIN_S:
        return abs(estimate - true) <= MIN_S
    return abs(estimate - true) <= MAX_RELATIVE_ERROR * true * (1 + 1e-9)


def scenario() -> Tsdb:
    """Four requests on two series over the first minute after T0 (hand-computed below)."""
    tsdb, clock = tsdb_at()
    record(tsdb, clock, 1, latency=0.1, tokens=(10, 20), cost=0.01)
    record(tsdb, clock, 2, ok=False, latency=0.3, tokens=(5, 0))
    record(tsdb, clock, 31, latency=0.2, ttft=0.05, tokens=(100, 50), cost=0.5)
    record(tsdb, clock, 15, "m2", latency=1.0, tokens=(1, 1), cost=0.001)
    clock.now = T0 + 45
    return tsdb


def query(tsdb: Tsdb, metric: str, **filters):
    """Evaluate a metric over [T0, T0 + 60) at a 30-second step from the open buckets."""
    plan = plan_query(T0, T0 + 60, 30, tsdb.clock.time(), tsdb.settings)
    series = evaluate(metric, tsdb.open_buckets(), plan, **filters)
    return {(s.model, s.provider): [v for _, v in s.points] for s in series}


def test_record_adds_to_the_current_ten_second_bucket():
    """Requests land in the 10-second bucket of their time; seal returns the ended ones."""
    tsdb, clock = tsdb_at()
    record(tsdb, clock, 1)
    record(tsdb, clock, 9.99, ok=False)
    record(tsdb, clock, 12)
    sealed = tsdb.seal(T0 + 19)
    assert [(b.tier, b.ts, b.stats.count, b.stats.errors) for b in sealed] == [(10, T0, 2, 1)]
    assert [(b.ts, b.stats.count) for b in tsdb.open_buckets()] == [(T0 + 10, 1)]
    assert [b.ts for b in tsdb.seal(T0 + 20)] == [T0 + 10]
    assert tsdb.open_buckets() == []


def test_drain_hands_out_the_open_bucket():
    """On shutdown drain returns even the bucket that has not ended, and empties memory."""
    tsdb, clock = tsdb_at()
    record(tsdb, clock, 3, tokens=(7, 8), cost=0.25)
    (bucket,) = tsdb.drain()
    assert (bucket.ts, bucket.stats.input_tokens, bucket.stats.output_tokens) == (T0, 7, 8)
    assert bucket.stats.cost_usd == 0.25
    assert tsdb.open_buckets() == []


def test_rates_and_sums_match_hand_computed_series():
    """Rates are totals per second of step, cost a sum per step, grouped per series."""
    tsdb = scenario()
    both = {("m1", "p1"), ("m2", "p1")}
    assert set(query(tsdb, "requests")) == both
    assert query(tsdb, "requests")[("m1", "p1")] == [2 / 30, 1 / 30]
    assert query(tsdb, "requests")[("m2", "p1")] == [1 / 30, 0.0]
    assert query(tsdb, "errors")[("m1", "p1")] == [1 / 30, 0.0]
    assert query(tsdb, "input_tokens")[("m1", "p1")] == [15 / 30, 100 / 30]
    assert query(tsdb, "output_tokens")[("m1", "p1")] == [20 / 30, 50 / 30]
    assert query(tsdb, "tokens")[("m1", "p1")] == [35 / 30, 150 / 30]
    assert query(tsdb, "cost_usd")[("m1", "p1")] == [0.01, 0.5]


def test_error_rate_is_null_without_requests():
    """error_rate is errors over requests, and null where there were no requests."""
    tsdb = scenario()
    assert query(tsdb, "error_rate")[("m1", "p1")] == [0.5, 0.0]
    assert query(tsdb, "error_rate")[("m2", "p1")] == [0.0, None]


def test_percentiles_of_a_window_within_the_bound():
    """Latency and TTFT percentiles are within the documented bound of the true values."""
    tsdb = scenario()
    p50 = query(tsdb, "latency_p50")[("m1", "p1")]
    p99 = query(tsdb, "latency_p99")[("m1", "p1")]
    assert within_bound(p50[0], 0.1)
    assert within_bound(p50[1], 0.2)
    assert within_bound(p99[0], 0.3)
    ttft = query(tsdb, "ttft_p50")[("m1", "p1")]
    assert ttft[0] is None
    assert within_bound(ttft[1], 0.05)


def test_aggregate_and_grouped_series():
    """group=none sums every series; group=model/provider merge the other dimension."""
    tsdb = scenario()
    assert query(tsdb, "requests", group="none") == {(None, None): [3 / 30, 1 / 30]}
    assert query(tsdb, "requests", group="provider") == {(None, "p1"): [3 / 30, 1 / 30]}
    assert query(tsdb, "requests", model="m2", group="none") == {("m2", None): [1 / 30, 0.0]}
    assert query(tsdb, "requests", provider="nope") == {}
    assert query(tsdb, "requests", provider="nope", group="none") == {(None, "nope"): [0.0, 0.0]}
    merged = query(tsdb, "latency_p99", group="none")[(None, None)]
    assert within_bound(merged[0], 1.0)


def test_points_are_aligned_to_the_step():
    """Points start at the step-aligned window holding `from` and cover up to `to`."""
    tsdb = scenario()
    plan = plan_query(T0 + 40, T0 + 70, 30, tsdb.clock.time(), tsdb.settings)
    (series,) = evaluate("requests", tsdb.open_buckets(), plan)  # m2 has nothing after T0 + 30
    assert (series.model, [ts for ts, _ in series.points]) == ("m1", [T0 + 30, T0 + 60])
    assert [v for _, v in series.points] == [1 / 30, 0.0]


def test_every_metric_has_a_unit_and_a_value_for_empty_windows():
    """Each metric is documented with a unit and answers 0 or null for an empty window."""
    for name, metric in METRICS.items():
        assert metric.unit, name
        assert metric.value(Stats(), 10) in {0.0, None}, name


def test_rollup_merges_counts_sums_and_histograms_exactly():
    """10 s → 1 min → 1 h rollups hold exactly the merged counts, sums and histograms."""
    tsdb, clock = tsdb_at()
    latencies = [0.05 * (i % 40 + 1) for i in range(240)]
    for i, latency in enumerate(latencies):  # one request every 30 s for two hours
        record(tsdb, clock, i * 30, ok=i % 7 != 0, latency=latency, tokens=(i, 2), cost=0.001)
    raw = tsdb.drain()
    assert len(raw) == 240
    minutes = rollup(raw, 60)
    hours = rollup(minutes, 3600)
    assert len(minutes) == 120
    assert [(b.ts, b.stats.count) for b in hours] == [(T0, 120), (T0 + 3600, 120)]
    assert sum(b.stats.errors for b in hours) == sum(1 for i in range(240) if i % 7 == 0)
    assert sum(b.stats.input_tokens for b in hours) == sum(range(240))
    assert sum(b.stats.cost_usd for b in hours) == pytest.approx(0.24)
    direct = Histogram()
    for latency in latencies[:120]:
        direct.observe(latency)
    assert hours[0].stats.latency == direct
    assert hours[0].stats.latency.total == 120


def test_percentiles_of_a_rolled_up_hour():
    """The p50/p95/p99 of a rolled-up hour are within the bound of the hour's true values."""
    tsdb, clock = tsdb_at()
    samples = [0.001 * (i + 1) for i in range(1000)]
    for i, latency in enumerate(samples):
        record(tsdb, clock, i * 3.6, latency=latency)
    hour = rollup(rollup(tsdb.drain(), 60), 3600)
    assert len(hour) == 1
    for q in (0.5, 0.95, 0.99):
        assert within_bound(hour[0].stats.latency.quantile(q), nearest_rank(samples, q))


@given(
    st.lists(st.floats(min_value=0, max_value=MAX_S / 2), min_size=1, max_size=200),
    st.sampled_from([0.01, 0.5, 0.95, 0.99, 1.0]),
)
def test_quantile_error_bound(samples, q):
    """For any samples, the histogram quantile is within MAX_RELATIVE_ERROR (1 ms below 1 ms)."""
    hist = Histogram()
    for sample in samples:
        hist.observe(sample)
    assert within_bound(hist.quantile(q), nearest_rank(samples, q))


def test_bucket_edges():
    """Bounds are contiguous; odd inputs (negative, NaN, infinite) land in the end buckets."""
    assert bucket_index(-1.0) == bucket_index(math.nan) == bucket_index(0.0) == 0
    assert bucket_index(MIN_S) == 1
    assert bucket_index(math.inf) == bucket_index(MAX_S) == TOP
    for index in range(TOP):
        assert bucket_bounds(index)[1] == pytest.approx(bucket_bounds(index + 1)[0])
    for seconds in (0.0005, 0.001, 0.0123, 0.25, 1.0, 42.0, 600.0, 5000.0):
        low, high = bucket_bounds(bucket_index(seconds))
        assert low <= seconds < high or seconds >= MAX_S
    assert Histogram().quantile(0.5) is None
    assert Histogram(TOP, [3]).quantile(0.5) == MAX_S


def test_histogram_encoding_round_trips():
    """The stored [first index, counts...] form reads back to the same histogram."""
    hist = Histogram()
    for seconds in (0.002, 0.0021, 0.0045, 0.003):
        hist.observe(seconds)
    assert [bucket_index(x) for x in (0.002, 0.003, 0.0045)] == [9, 13, 18]
    assert hist.encode() == [9, 2, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert Histogram.decode(hist.encode()) == hist
    assert Histogram().encode() == []
    assert Histogram.decode([]) == Histogram()


def test_histogram_merge_widens_either_way():
    """Merging spans below, above, inside and around each other adds bucket by bucket."""
    a = Histogram(10, [1, 2])
    a.merge(Histogram(5, [1]))
    a.merge(Histogram(20, [4]))
    a.merge(Histogram(11, [3]))
    a.merge(Histogram())
    assert a.as_dict() == {5: 1, 10: 1, 11: 5, 20: 4}
    b = Histogram()
    b.merge(a)
    b.merge(Histogram(0, [1] * 30))
    assert b.as_dict() == {i: 1 + a.as_dict().get(i, 0) for i in range(30)}
    assert a.as_dict() == {5: 1, 10: 1, 11: 5, 20: 4}  # the merged-in side is untouched


def test_stats_merge():
    """Merging adds every field, including histograms bucket by bucket."""
    a = Stats(2, 1, 10, 20, 0.5, Histogram(5, [2]), Histogram())
    a.merge(Stats(1, 0, 1, 2, 0.25, Histogram(5, [1, 0, 0, 0, 1]), Histogram(4, [1])))
    assert a == Stats(3, 1, 11, 22, 0.75, Histogram(5, [3, 0, 0, 0, 1]), Histogram(4, [1]))


@pytest.mark.parametrize(
    ("age", "span", "step", "tier", "effective"),
    [
        (3600, 3600, None, 10, 10),  # the last hour: raw, 10 s (360 points)
        (DAY - 60, DAY - 60, None, 60, 300),  # a day: 5-minute points read from 1-min buckets
        (3600, 3600, 25, 10, 30),  # rounded up to a multiple of 10 s
        (3600, 3600, 120, 60, 120),  # a multiple of 60 reads 1-minute buckets
        (3 * DAY, 3600, 10, 60, 60),  # older than a day: 1 minute at the finest
        (30 * DAY, 86_400, None, 3600, 3600),  # older than a week: 1 hour at the finest
        (3 * DAY, 3 * DAY, 7200, 3600, 7200),  # a multiple of 3600 reads 1-hour buckets
    ],
)
def test_plan_picks_tier_and_step(age, span, step, tier, effective):
    """The finest tier still holding `from` bounds the step; the coarsest dividing it is read."""
    now = T0 + 10 * DAY
    plan = plan_query(now - age, now - age + span, step, now, TsdbSettings())
    assert (plan.tier, plan.step) == (tier, effective)


def test_plan_follows_configured_retention():
    """A shorter raw retention moves a range to the 1-minute tier sooner."""
    settings = TsdbSettings(raw_retention_s=3600)
    now = T0 + DAY
    assert plan_query(now - 7200, now, None, now, settings).tier == 60


def test_plan_rejects_bad_ranges():
    """An empty range names `to`; too many points names `step`."""
    now = T0 + DAY
    with pytest.raises(InvalidRequestError) as info:
        plan_query(now, now - 1, None, now, TsdbSettings())
    assert info.value.param == "to"
    with pytest.raises(InvalidRequestError) as info:
        plan_query(now - 7 * DAY + 60, now, 1, now, TsdbSettings())  # 1-min points for a week
    assert info.value.param == "step"


def test_retentions_must_not_shrink():
    """A coarser tier must be kept at least as long as a finer one."""
    with pytest.raises(ValueError, match="retentions must not shrink"):
        TsdbSettings(raw_retention_s=8 * DAY)


def test_buckets_outside_the_range_are_ignored():
    """Only buckets with a start inside the planned windows count."""
    plan = plan_query(T0, T0 + 20, 10, T0 + 20, TsdbSettings())
    buckets = [Bucket(10, T0 + t, "m", "p", Stats(count=1)) for t in (-10, 0, 10, 20)]
    (series,) = evaluate("requests", buckets, plan)
    assert series.points == [(T0, 0.1), (T0 + 10, 0.1)]
