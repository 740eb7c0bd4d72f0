"""The async SQLAlchemy engine: SQLite tuned for a daemon (WAL, busy timeout, FKs) or any URL."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_CACHE_KIB = 1024  # per connection; the working set is small, append-mostly tables
_WAL_RETRY_S = 0.01


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str) -> AsyncEngine:
    """Build the engine for ``url``; for SQLite, create the folder and set the pragmas.

    JSON columns are (de)serialised with orjson: the request log writes one per request.
    """
    parsed = make_url(url)
    json_args: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, **json_args)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # SQLite serialises writers anyway: a small pool keeps per-connection page caches
    # and worker threads few.
    engine = create_async_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=2,
        max_overflow=3,
        **json_args,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    _enter_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def _enter_wal(cursor: Any) -> None:
    """``PRAGMA journal_mode=WAL``, waiting (up to the busy timeout) for a writer to finish.

    Switching a fresh database to WAL needs it unlocked, and SQLite answers "database is
    locked" at once rather than through the busy handler: a replica connecting while
    another creates the schema (``BEGIN IMMEDIATE``) would fail. This runs in the driver's
    thread, so sleeping here blocks no event loop.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(_WAL_RETRY_S)
        else:
            return


def backend_name(engine: AsyncEngine) -> str:
    """'sqlite' or 'postgresql' (or another SQLAlchemy backend name)."""
    return engine.url.get_backend_name()
