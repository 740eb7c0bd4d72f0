"""Key spend committed by the background writer in the same transaction as its rows."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import func, select

from tokenhub.auth.apikeys import ApiKey
from tokenhub.auth.spend import SpendLedger
from tokenhub.clock import FakeClock
from tokenhub.config import WriterSettings
from tokenhub.observability.metrics import Metrics
from tokenhub.store import apikey_store
from tokenhub.store.engine import create_engine
from tokenhub.store.migrate import upgrade
from tokenhub.store.spend_store import SpendWriter
from tokenhub.store.tables import RequestLogRow
from tokenhub.store.writer import BackgroundWriter
from tokenhub.testing.postgres import temporary_database

REQUESTS = RequestLogRow.__table__


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request, tmp_path):
    """A migrated engine holding one key, on SQLite and on PostgreSQL."""
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
        else:
            url = await stack.enter_async_context(temporary_database())
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        await upgrade(engine)
        await apikey_store.insert_key(engine, ApiKey("k1", "team", "th-k1", "hash", ["chat"]))
        yield engine


def request_row(request_id: str | None, cost: float) -> dict[str, object]:
    """A request-log row (``request_id`` None makes it violate NOT NULL)."""
    return {
        "request_id": request_id,
        "ts": 1.0,
        "endpoint": "/v1/chat/completions",
        "status": "ok",
        "http_status": 200,
        "attempts": [],
        "cost_usd": cost,
    }


async def stored(engine) -> tuple[float, int]:
    """The key's stored spend and how many request rows are stored."""
    keys = {k.id: k for k in await apikey_store.load_keys(engine)}
    async with engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(REQUESTS))).scalar_one()
    return keys["k1"].spent_usd, rows


async def test_spend_commits_with_the_rows_and_survives_a_failed_flush(engine):
    """A flush that fails writes neither rows nor spend, and the next flush writes the spend."""
    ledger = SpendLedger(FakeClock())
    writer = BackgroundWriter(engine, WriterSettings(flush_interval_s=60), Metrics())
    writer.attach(SpendWriter(ledger))
    key = (await apikey_store.load_keys(engine))[0]
    ledger.charge(key, 0.25)
    writer.submit(REQUESTS, request_row("r1", 0.25))
    writer.submit(REQUESTS, request_row(None, 0.0))  # the store refuses this flush, once
    await writer.flush()
    assert await stored(engine) == (0.0, 0)
    assert ledger.pending  # the key stays dirty for the next flush
    ledger.charge(key, 0.5)
    writer.submit(REQUESTS, request_row("r2", 0.5))
    await writer.flush()
    assert await stored(engine) == (0.75, 1)


async def test_stop_writes_spend_with_no_row_queued(engine):
    """A graceful stop writes spend changed since the last flush even when no row waits."""
    ledger = SpendLedger(FakeClock())
    writer = BackgroundWriter(engine, WriterSettings(flush_interval_s=60), Metrics())
    writer.attach(SpendWriter(ledger))
    await writer.start()
    ledger.charge((await apikey_store.load_keys(engine))[0], 0.125)
    await writer.stop()
    assert await stored(engine) == (0.125, 0)
