"""TSDB persistence: writes, rollups, retention, restarts and failed writes, on real SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from tokenhub.clock import FakeClock
from tokenhub.config import TsdbSettings
from tokenhub.observability.tsdb import Bucket, Stats, Tsdb
from tokenhub.observability.tsdb_hist import bucket_index
from tokenhub.observability.tsdb_query import plan_query
from tokenhub.store.engine import create_engine
from tokenhub.store.migrate import upgrade
from tokenhub.store.tsdb_store import TSDB_POINTS, TsdbStore, to_row
from tokenhub.testing.polling import async_wait_until
from tokenhub.testing.postgres import temporary_database

T0 = 1_699_999_200.0  # a whole hour
DAY = 86_400.0


@pytest.fixture
async def engine(tmp_path):
    """A migrated SQLite engine."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'tsdb.db'}")
    await upgrade(engine)
    yield engine
    await engine.dispose()


def make(engine, settings: TsdbSettings | None = None) -> tuple[Tsdb, TsdbStore, FakeClock]:
    """A Tsdb on a fake clock at T0 and its store."""
    clock = FakeClock(T0)
    tsdb = Tsdb(clock, settings or TsdbSettings())
    return tsdb, TsdbStore(engine, tsdb), clock


def hit(tsdb: Tsdb, model: str = "m", *, ok: bool = True, latency: float = 0.2) -> None:
    """Record one request with 3 input tokens, 4 output tokens and $0.5."""
    tsdb.record(
        model,
        "p",
        ok=ok,
        latency_s=latency,
        ttft_s=0.05,
        input_tokens=3,
        output_tokens=4,
        cost_usd=0.5,
    )


async def rows(engine, tier: int | None = None) -> list[dict]:
    """Stored rows, optionally of one tier, in (tier, ts) order."""
    stmt = select(TSDB_POINTS).order_by(TSDB_POINTS.c.tier, TSDB_POINTS.c.ts)
    if tier is not None:
        stmt = stmt.where(TSDB_POINTS.c.tier == tier)
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(stmt)).mappings().all()]


async def total(store: TsdbStore, metric: str, start: float, end: float, step: int) -> float:
    """The sum of a metric's points over one aggregate series (rates times the step)."""
    now = store._tsdb.clock.time()
    plan = plan_query(start, end, step, now, store._tsdb.settings)
    (series,) = await store.query(metric, plan, group="none")
    return sum((v or 0.0) * (step if metric == "requests" else 1) for _, v in series.points)


async def test_persist_writes_finished_buckets(engine):
    """Buckets whose 10 seconds are over are written with every field; the open one is not."""
    tsdb, store, clock = make(engine)
    hit(tsdb)
    hit(tsdb, ok=False, latency=1.5)
    clock.advance(10)
    hit(tsdb)
    assert await store.persist() == 1
    (row,) = await rows(engine)
    assert row["tier"] == 10
    assert row["ts"] == T0
    assert (row["count"], row["errors"], row["input_tokens"], row["output_tokens"]) == (2, 1, 6, 8)
    assert row["cost_usd"] == 1.0
    low, high = bucket_index(0.2), bucket_index(1.5)
    assert row["latency"] == [low, 1, *[0] * (high - low - 1), 1]
    assert row["ttft"] == [bucket_index(0.05), 2]
    assert row["rolled"] is False


async def test_query_counts_memory_and_database_once(engine):
    """A query sees stored buckets and the one being filled, each exactly once."""
    tsdb, store, clock = make(engine)
    for _ in range(6):
        hit(tsdb)
        clock.advance(5)
    assert await total(store, "requests", T0, T0 + 60, 10) == 6
    await store.persist()
    assert len(await rows(engine)) == 3
    assert await total(store, "requests", T0, T0 + 60, 10) == 6
    hit(tsdb)
    assert await total(store, "requests", T0, T0 + 60, 10) == 7


async def test_maintenance_rolls_up_finished_minutes_and_hours(engine):
    """Finished minutes become 1 min rows and finished hours 1 h rows, each once, exactly."""
    tsdb, store, clock = make(engine)
    for i in range(2 * 60 * 6 + 3):  # one request per 10 s for two hours and 30 s
        hit(tsdb, ok=i % 4 != 0)
        clock.advance(10)
    report = await store.maintain()
    assert report.rolled == {60: 720, 3600: 120}  # raw rows in, minute rows in
    minutes = await rows(engine, 60)
    hours = await rows(engine, 3600)
    assert len(minutes) == 120  # the minute under way is not finished
    assert [(h["ts"], h["count"], h["errors"], h["cost_usd"]) for h in hours] == [
        (T0, 360, 90, 180.0),
        (T0 + 3600, 360, 90, 180.0),
    ]
    assert all(r["rolled"] for r in await rows(engine, 10) if r["ts"] < T0 + 7200)
    assert (await store.maintain()).rolled == {60: 0, 3600: 0}  # nothing twice
    for step in (10, 60, 3600):  # every tier answers the same totals
        assert await total(store, "requests", T0, T0 + 3 * 3600, step) == 723
        assert await total(store, "cost_usd", T0, T0 + 3 * 3600, step) == 361.5


async def test_late_row_is_rolled_up_next_time(engine):
    """A 10 s row written after its minute was rolled up is rolled up by the next pass."""
    tsdb, store, clock = make(engine)
    hit(tsdb)
    clock.advance(120)
    await store.maintain()
    async with engine.begin() as conn:
        await conn.execute(TSDB_POINTS.insert(), [to_row(Bucket(10, T0 + 30, "m", "p", Stats(2)))])
    assert (await store.maintain()).rolled[60] == 1
    assert [r["count"] for r in await rows(engine, 60)] == [1, 2]
    assert await total(store, "requests", T0, T0 + 120, 60) == 3


async def test_retention_prunes_each_tier(engine):
    """Past each tier's retention (24 h, 7 days, 90 days) its rows are deleted."""
    tsdb, store, clock = make(engine)
    hit(tsdb)
    clock.advance(3600)
    await store.maintain()
    assert [len(await rows(engine, t)) for t in (10, 60, 3600)] == [1, 1, 1]
    clock.now = T0 + DAY + 10
    assert (await store.maintain()).pruned == 1
    assert [len(await rows(engine, t)) for t in (10, 60, 3600)] == [0, 1, 1]
    clock.now = T0 + 7 * DAY + 60
    await store.maintain()
    assert [len(await rows(engine, t)) for t in (10, 60, 3600)] == [0, 0, 1]
    assert await total(store, "requests", T0, T0 + 3600, 3600) == 1
    clock.now = T0 + 90 * DAY + 3600
    await store.maintain()
    assert await rows(engine) == []


async def test_configured_retention_is_honoured(engine):
    """A shorter configured raw retention prunes 10 s rows sooner."""
    tsdb, store, clock = make(engine, TsdbSettings(raw_retention_s=3600))
    hit(tsdb)
    clock.advance(3610)
    await store.maintain()
    assert await rows(engine, 10) == []
    assert len(await rows(engine, 60)) == 1


async def test_stop_writes_the_unfinished_bucket_and_a_restart_reads_it(engine):
    """Stopping writes even the open bucket; a new store on the same database has the history."""
    tsdb, store, clock = make(engine)
    await store.start()
    hit(tsdb)
    clock.advance(30)
    hit(tsdb, "m2")
    await store.stop()
    assert len(await rows(engine)) == 2
    tsdb2, store2, clock2 = make(engine)
    clock2.now = clock.now
    assert await total(store2, "requests", T0, T0 + 60, 10) == 2
    assert tsdb2.open_buckets() == []


async def test_background_task_persists_and_maintains(engine):
    """The task writes sealed buckets and rolls them up without anyone asking."""
    tsdb, store, clock = make(engine, TsdbSettings(maintenance_interval_s=0.01))
    await store.start()
    try:
        hit(tsdb)
        clock.advance(70)
        await async_wait_until(lambda: rows(engine, 60), what="a rolled-up minute")
    finally:
        await store.stop()


async def test_failed_write_keeps_buckets_for_the_next_try(tmp_path):
    """While the table cannot be written the buckets stay in memory, then are written."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'late.db'}")
    try:
        tsdb, store, clock = make(engine)
        hit(tsdb)
        clock.advance(10)
        with pytest.raises(SQLAlchemyError, match="no such table"):
            await store.persist()
        assert await total(store_without_db(store), "requests", T0, T0 + 20, 10) == 1
        await upgrade(engine)
        assert await store.persist() == 1
    finally:
        await engine.dispose()


def store_without_db(store: TsdbStore) -> TsdbStore:
    """The same store with reads answered from memory only (the table does not exist)."""

    async def nothing(*_args):
        return None

    store._read_into = nothing
    return store


@pytest.mark.postgres
async def test_rollup_and_query_on_postgres():
    """Writing, rolling up, pruning and querying work the same on PostgreSQL."""
    async with temporary_database() as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            tsdb, store, clock = make(engine)
            for _ in range(12):
                hit(tsdb)
                clock.advance(10)
            clock.advance(3600)
            report = await store.maintain()
            assert report.rolled == {60: 12, 3600: 2}
            assert await total(store, "requests", T0, T0 + 3600, 3600) == 12
            async with engine.connect() as conn:
                count = (await conn.execute(select(func.count()).select_from(TSDB_POINTS))).scalar()
            assert count == 12 + 2 + 1
        finally:
            await engine.dispose()
