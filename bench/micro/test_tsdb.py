"""Microbenchmarks of the TSDB (pytest-benchmark; not part of `make test`).

Run with `make bench-micro`. The figures are reported in docs/METRICS.md ("Embedded TSDB").
"""

from __future__ import annotations

import itertools
import random

from tokenhub.clock import SystemClock
from tokenhub.config import TsdbSettings
from tokenhub.observability.tsdb import Tsdb, rollup
from tokenhub.observability.tsdb_query import evaluate, plan_query

SERIES = [(f"m{i}", f"p{i % 3}") for i in range(20)]


def test_record(benchmark):
    """One record() into 20 live series (target: a few µs)."""
    tsdb = Tsdb(SystemClock(), TsdbSettings())
    rng = random.Random(1)
    calls = itertools.cycle(
        [(*SERIES[i % 20], rng.random() > 0.05, rng.lognormvariate(0, 1)) for i in range(1000)]
    )

    def one() -> None:
        model, provider, ok, latency = next(calls)
        tsdb.record(
            model,
            provider,
            ok=ok,
            latency_s=latency,
            ttft_s=latency / 4,
            input_tokens=500,
            output_tokens=200,
            cost_usd=0.001,
        )

    benchmark(one)


def test_query_a_day_of_minutes(benchmark):
    """A day of 1-minute buckets for 20 series, p95 latency aggregated at 5-minute steps."""
    tsdb = Tsdb(SystemClock(), TsdbSettings())
    now = tsdb.clock.time()
    rng = random.Random(2)
    for model, provider in SERIES:
        for _ in range(200):
            tsdb.record(
                model,
                provider,
                ok=True,
                latency_s=rng.lognormvariate(0, 1),
                ttft_s=None,
                input_tokens=1,
                output_tokens=1,
                cost_usd=0.0,
            )
    (sample,) = rollup([tsdb.drain()[0]], 60)
    buckets = [
        type(sample)(60, now - now % 60 - 60 * i, m, p, sample.stats)
        for i in range(1440)
        for m, p in SERIES
    ]
    plan = plan_query(now - 86_340, now, 300, now, TsdbSettings())
    series = benchmark(evaluate, "latency_p95", buckets, plan, group="none")
    assert sample.stats.latency.quantile(0.95) is not None
    assert len(series[0].points) == plan.points


def test_store_query_a_day_of_minutes(benchmark, tmp_path):
    """The same day read back from SQLite: requests (no histograms) and p95 (one histogram)."""
    import asyncio

    from tokenhub.store.engine import create_engine
    from tokenhub.store.migrate import upgrade
    from tokenhub.store.tsdb_store import TSDB_POINTS, TsdbStore, to_row

    tsdb = Tsdb(SystemClock(), TsdbSettings())
    now = tsdb.clock.time()
    rng = random.Random(3)
    for _ in range(200):
        tsdb.record(
            "m",
            "p",
            ok=True,
            latency_s=rng.lognormvariate(0, 1),
            ttft_s=None,
            input_tokens=1,
            output_tokens=1,
            cost_usd=0.0,
        )
    (sample,) = rollup(tsdb.drain(), 60)
    rows = [
        to_row(type(sample)(60, now - now % 60 - 60 * i, m, p, sample.stats))
        for i in range(1440)
        for m, p in SERIES
    ]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}")
    loop = asyncio.new_event_loop()

    async def load() -> None:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(TSDB_POINTS.insert(), rows)

    loop.run_until_complete(load())
    store = TsdbStore(engine, tsdb)
    plan = plan_query(now - 86_340, now, 300, now, TsdbSettings())

    def both() -> None:
        for metric in ("requests", "latency_p95"):
            loop.run_until_complete(store.query(metric, plan, group="none"))

    benchmark.pedantic(both, rounds=5)
    loop.run_until_complete(engine.dispose())
    loop.close()
