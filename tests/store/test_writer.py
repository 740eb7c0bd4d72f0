"""The background writer: batches, time-triggered flushes, draining on stop, counted drops."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tokenhub.config import WriterSettings
from tokenhub.observability.metrics import Metrics
from tokenhub.store.engine import create_engine
from tokenhub.store.migrate import upgrade
from tokenhub.store.tables import AuditRow
from tokenhub.store.writer import BackgroundWriter
from tokenhub.testing.polling import async_wait_until

AUDIT = AuditRow.__table__


def row(i: int) -> dict[str, object]:
    """A valid audit row."""
    return {
        "ts": float(i),
        "actor": "t",
        "action": "x",
        "target": None,
        "outcome": "ok",
        "details": {},
    }


@pytest.fixture
async def engine(tmp_path):
    """A migrated SQLite engine."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    await upgrade(engine)
    yield engine
    await engine.dispose()


async def count(engine) -> int:
    """Rows in the audit table."""
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(AUDIT))).scalar_one()


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    """Read one metric sample."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_submit_does_not_write_until_flush(engine):
    """Submit only queues; a flush writes the queued rows in one go."""
    metrics = Metrics()
    writer = BackgroundWriter(engine, WriterSettings(flush_interval_s=60), metrics)
    for i in range(3):
        writer.submit(AUDIT, row(i))
    assert writer.queued == 3
    assert await count(engine) == 0
    assert await writer.flush() == 3
    assert await count(engine) == 3
    assert sample(metrics, "tokenhub_writer_rows_written_total", table="audit_log") == 3


async def test_size_triggered_flush(engine):
    """Reaching batch_size wakes the writer without waiting for the interval."""
    writer = BackgroundWriter(engine, WriterSettings(flush_interval_s=60, batch_size=10), Metrics())
    await writer.start()
    try:
        for i in range(25):
            writer.submit(AUDIT, row(i))
        await async_wait_until(lambda: _at_least(engine, 20), what="two batches")
    finally:
        await writer.stop()
    assert await count(engine) == 25


async def _at_least(engine, n: int) -> bool:
    return await count(engine) >= n


async def test_time_triggered_flush(engine):
    """A single row is written once the flush interval passes."""
    writer = BackgroundWriter(engine, WriterSettings(flush_interval_s=0.05), Metrics())
    await writer.start()
    try:
        writer.submit(AUDIT, row(1))
        await async_wait_until(lambda: _at_least(engine, 1), what="the interval flush")
    finally:
        await writer.stop()


async def test_stop_drains_everything(engine):
    """Nothing queued is lost on a graceful stop, even beyond one batch."""
    writer = BackgroundWriter(engine, WriterSettings(flush_interval_s=60, batch_size=7), Metrics())
    await writer.start()
    for i in range(50):
        writer.submit(AUDIT, row(i))
    await writer.stop()
    assert await count(engine) == 50


async def test_full_queue_drops_and_counts(engine):
    """Beyond max_queue rows are dropped, counted per table, never blocking."""
    metrics = Metrics()
    writer = BackgroundWriter(engine, WriterSettings(max_queue=5, batch_size=100), metrics)
    for i in range(8):
        writer.submit(AUDIT, row(i))
    assert writer.queued == 5
    assert sample(metrics, "tokenhub_writer_rows_dropped_total", table="audit_log") == 3
    await writer.stop()
    assert await count(engine) == 5


async def test_failed_flush_counts_dropped_rows(engine):
    """A flush the database rejects is logged and counted, and the writer keeps going."""
    metrics = Metrics()
    writer = BackgroundWriter(engine, WriterSettings(), metrics)
    writer.submit(AUDIT, {"ts": 1.0})  # missing NOT NULL columns
    await writer.flush()
    assert sample(metrics, "tokenhub_writer_rows_dropped_total", table="audit_log") == 1
    writer.submit(AUDIT, row(2))
    await writer.flush()
    assert await count(engine) == 1


async def test_large_flush_writes_every_row_in_order(engine):
    """A batch of over a hundred rows lands whole, in the order it was submitted."""
    rows = 107
    writer = BackgroundWriter(engine, WriterSettings(batch_size=rows), Metrics())
    for i in range(rows):
        writer.submit(AUDIT, row(i))
    assert await writer.flush() == rows
    async with engine.connect() as conn:
        stamps = (await conn.execute(select(AUDIT.c.ts).order_by(AUDIT.c.id))).scalars().all()
    assert stamps == [float(i) for i in range(rows)]


async def test_flush_is_one_transaction(engine):
    """A row the database rejects at the end of a flush takes the rows before it with it."""
    metrics = Metrics()
    rows = 107
    writer = BackgroundWriter(engine, WriterSettings(batch_size=rows), metrics)
    for i in range(rows - 1):
        writer.submit(AUDIT, row(i))
    writer.submit(AUDIT, {**row(rows), "actor": None})  # NOT NULL, same columns
    await writer.flush()
    assert await count(engine) == 0
    assert sample(metrics, "tokenhub_writer_rows_dropped_total", table="audit_log") == rows


async def test_mixed_rows_and_defaults(engine):
    """Rows of one table with different key sets, JSON values and omitted defaults all land."""
    from tokenhub.store.tables import RequestLogRow

    log = RequestLogRow.__table__
    writer = BackgroundWriter(engine, WriterSettings(), Metrics())
    base = {
        "request_id": "r",
        "ts": 1.0,
        "endpoint": "/v1/chat",
        "status": "ok",
        "http_status": 200,
    }
    writer.submit(log, {**base, "attempts": [{"model": "m", "ok": True}]})
    writer.submit(log, {**base, "attempts": [], "model": "m", "input_tokens": 7, "body": {"a": 1}})
    await writer.flush_all()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(log).order_by(log.c.id))).mappings().all()
    assert [r["attempts"] for r in rows] == [[{"model": "m", "ok": True}], []]
    assert [r["input_tokens"] for r in rows] == [0, 7]
    assert [r["body"] for r in rows] == [None, {"a": 1}]


@pytest.mark.postgres
async def test_writer_on_postgres():
    """The writer's batched inserts work on PostgreSQL too."""
    from tokenhub.testing.postgres import temporary_database

    async with temporary_database() as url:
        pg = create_engine(url)
        try:
            await upgrade(pg)
            writer = BackgroundWriter(pg, WriterSettings(), Metrics())
            for i in range(3):
                writer.submit(AUDIT, {**row(i), "details": {"i": i}})
            await writer.flush_all()
            assert await count(pg) == 3
        finally:
            await pg.dispose()
