"""The background writer: request-path rows are queued in memory and committed in batches.

A request never waits for the disk: ``submit`` appends to a list and returns. A flush runs
when ``batch_size`` rows are waiting or ``flush_interval_s`` has passed, writing everything
queued in one transaction per flush. ``stop`` drains the queue, so a graceful shutdown
loses nothing; only a full queue (a database that cannot keep up) drops rows, counted.

State that must commit with the rows rides in the same transaction through a co-writer
(``attach``): a key's spend is written with the request rows that carry its charges, so a
crash loses both or neither, at most one flush interval's worth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from typing import Any, Protocol

import orjson
from sqlalchemy import JSON, Table, insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from tokenhub.config import WriterSettings
from tokenhub.observability.metrics import Metrics

log = logging.getLogger("tokenhub.store.writer")


class CoWrite(Protocol):
    """One flush's share of a co-writer's state."""

    async def write(self, conn: AsyncConnection) -> None:
        """Write it inside the flush's transaction."""
        ...

    def failed(self) -> None:
        """The transaction did not commit: keep the state for the next flush."""
        ...


class CoWriter(Protocol):
    """State committed in the same transaction as the rows of each flush."""

    def take(self) -> CoWrite | None:
        """What changed since the last flush (None: nothing)."""
        ...


class BackgroundWriter:
    """Batches inserts from the request path into few transactions."""

    def __init__(self, engine: AsyncEngine, settings: WriterSettings, metrics: Metrics) -> None:
        self._engine = engine
        self._settings = settings
        self._metrics = metrics
        self._pending: list[tuple[Table, dict[str, Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._statements: dict[tuple[str, tuple[str, ...]], tuple[str, tuple[str, ...]]] = {}
        self._json: dict[str, frozenset[str]] = {}
        self._fill: dict[str, dict[str, Any]] = {}
        self._cowriters: list[CoWriter] = []
        metrics.writer_queue_depth.set_function(lambda: len(self._pending))

    @property
    def queued(self) -> int:
        """Rows waiting to be written."""
        return len(self._pending)

    def attach(self, cowriter: CoWriter) -> None:
        """Write ``cowriter``'s changes in every flush's transaction (even with no rows)."""
        self._cowriters.append(cowriter)

    def submit(self, table: Table, row: dict[str, Any]) -> None:
        """Queue one row for insertion; never blocks, drops (and counts) when full."""
        if len(self._pending) >= self._settings.max_queue:
            self._metrics.writer_rows_dropped.labels(table.name).inc()
            return
        self._pending.append((table, row))
        if len(self._pending) >= self._settings.batch_size:
            self._wake.set()

    async def start(self) -> None:
        """Start the flush loop."""
        self._task = asyncio.create_task(self._run(), name="tokenhub-writer")

    async def stop(self) -> None:
        """Stop the loop and write everything still queued."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush_all()

    async def flush(self) -> int:
        """Write up to one batch now; return how many rows were written."""
        async with self._flush_lock:
            batch = self._pending[: self._settings.batch_size]
            del self._pending[: len(batch)]
            extra = [w for c in self._cowriters if (w := c.take()) is not None]
            if batch or extra:
                await self._write(batch, extra)
            return len(batch)

    async def flush_all(self) -> None:
        """Write everything queued now (for reads that must see the latest rows)."""
        await self.flush()  # co-writers' state, even when no row is queued
        while self._pending:
            await self.flush()

    def _statement(self, table: Table, keys: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
        # Compiled once per table and column set; rows then go straight to the driver's
        # executemany, so a flush does almost no per-row work on the event loop.
        found = self._statements.get((table.name, keys))
        if found is None:
            compiled = (
                insert(table).inline().compile(dialect=self._engine.dialect, column_keys=list(keys))
            )
            order = tuple(compiled.positiontup or keys)
            found = self._statements[table.name, keys] = (str(compiled), order)
        return found

    def _defaults(self, table: Table) -> dict[str, Any]:
        # Scalar column defaults, which SQLAlchemy would fill in for omitted keys.
        found = self._fill.get(table.name)
        if found is None:
            found = self._fill[table.name] = {
                c.name: c.default.arg
                for c in table.columns
                if isinstance(c.default, ScalarElementColumnDefault)
            }
        return found

    def _json_columns(self, table: Table) -> frozenset[str]:
        found = self._json.get(table.name)
        if found is None:
            found = frozenset(c.name for c in table.columns if isinstance(c.type, JSON))
            self._json[table.name] = found
        return found

    async def _run(self) -> None:
        # Flushes start every flush_interval_s (not that long after the last one ended),
        # so a crash loses at most one interval's rows and the one flush in progress.
        loop = asyncio.get_running_loop()
        interval = self._settings.flush_interval_s
        next_at = loop.time() + interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_at - loop.time()))
            self._wake.clear()
            next_at = max(next_at, loop.time() - interval) + interval
            while await self.flush() >= self._settings.batch_size:
                pass

    async def _write(self, batch: list[tuple[Table, dict[str, Any]]], extra: list[CoWrite]) -> None:
        by_table: dict[Table, list[dict[str, Any]]] = defaultdict(list)
        groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
        for table, row in batch:
            by_table[table].append(row)
            groups[table, tuple(row)].append(row)
        try:
            with self._metrics.writer_flush_duration.time():
                async with self._engine.begin() as conn:
                    for (table, keys), rows in groups.items():
                        sql, order = self._statement(table, keys)
                        json_keys = self._json_columns(table)
                        fill = self._defaults(table)
                        values = [
                            tuple(
                                _json(r.get(k)) if k in json_keys else r.get(k, fill.get(k))
                                for k in order
                            )
                            for r in rows
                        ]
                        await conn.exec_driver_sql(sql, values)
                    for cowrite in extra:
                        await cowrite.write(conn)
        except SQLAlchemyError:
            log.exception("background writer flush failed; rows dropped")
            for cowrite in extra:
                cowrite.failed()
            for table, rows in by_table.items():
                self._metrics.writer_rows_dropped.labels(table.name).inc(len(rows))
            return
        except BaseException:
            for cowrite in extra:  # cancelled mid-flush (shutdown): the final flush retries
                cowrite.failed()
            raise
        for table, rows in by_table.items():
            self._metrics.writer_rows_written.labels(table.name).inc(len(rows))


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()
