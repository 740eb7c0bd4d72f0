"""The SQLite engine's connection set-up."""

from __future__ import annotations

import asyncio
import sqlite3

from sqlalchemy import text

from tokenhub.store.engine import create_engine


async def test_connecting_while_another_replica_creates_the_schema_waits(tmp_path):
    """Connecting while another writer holds BEGIN IMMEDIATE waits, then enters WAL."""
    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE t (x INTEGER)")
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, holder.execute, "COMMIT")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        assert mode == "wal"
    finally:
        await engine.dispose()
        holder.close()
