"""The TSDB's persistence: sealed buckets written, rolled up, pruned and read back.

A background task persists the ``Tsdb``'s sealed 10-second buckets every 10 seconds
(one insert of every series' bucket: already a batch) and, every
``maintenance_interval_s``, rolls finished minutes and hours up and deletes rows past
their tier's retention. Rolling up reads the finer rows not yet ``rolled``, inserts their
merge and marks them, in one transaction; a late row is simply rolled up the next time.

Every bucket is always in exactly one place: memory (open, or sealed and waiting to be
written) or the database. One lock orders persisting, maintenance and reading, so a
query sees each bucket once, including the bucket still being filled.

The buckets are written here rather than through the ``BackgroundWriter``: the request
path never touches this code (``Tsdb.record`` only adds in memory), and owning the
insert lets a failed write keep the buckets for the next try instead of dropping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Select, Text, and_, cast, delete, null, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tokenhub.observability.tsdb import (
    HOUR_S,
    MINUTE_S,
    RAW_S,
    TIERS,
    Bucket,
    Stats,
    Tsdb,
    floor_to,
    retention_s,
    rollup,
)
from tokenhub.observability.tsdb_hist import Histogram
from tokenhub.observability.tsdb_query import Evaluation, Group, Plan, Series
from tokenhub.store.tables import TsdbPointRow

TSDB_POINTS = TsdbPointRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it
ID_CHUNK = 500
ROWS_PER_SLICE = 2000
# Buckets kept in memory while the database refuses writes (about a day of 10 series).
MAX_PENDING = 100_000

log = logging.getLogger("tokenhub.store.tsdb")


def to_row(bucket: Bucket) -> dict[str, Any]:
    """The ``tsdb_points`` row of a bucket."""
    s = bucket.stats
    return {
        "tier": bucket.tier,
        "ts": bucket.ts,
        "model": bucket.model,
        "provider": bucket.provider,
        "rolled": False,
        "count": s.count,
        "errors": s.errors,
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens,
        "cost_usd": s.cost_usd,
        "latency": s.latency.encode(),
        "ttft": s.ttft.encode(),
    }


def _columns(*, latency: bool = True, ttft: bool = True) -> list[Any]:
    # Histograms come back as JSON text for orjson (far faster than the JSON type's
    # stdlib decoding), and are not read at all when the metric does not need them.
    t = TSDB_POINTS.c
    return [
        t.id,
        t.tier,
        t.ts,
        t.model,
        t.provider,
        t.count,
        t.errors,
        t.input_tokens,
        t.output_tokens,
        t.cost_usd,
        cast(t.latency, Text) if latency else null(),
        cast(t.ttft, Text) if ttft else null(),
    ]


def _bucket(row: Sequence[Any]) -> Bucket:
    _id, tier, ts, model, provider, count, errors, tokens_in, tokens_out, cost, lat, ttft = row
    stats = Stats(count, errors, tokens_in, tokens_out, cost, _histogram(lat), _histogram(ttft))
    return Bucket(tier, ts, model, provider, stats)


def _histogram(text: str | None) -> Histogram:
    return Histogram.decode(orjson.loads(text)) if text else Histogram()


@dataclass(slots=True)
class Maintenance:
    """What one maintenance pass did: rows rolled up per target tier, rows deleted."""

    rolled: dict[int, int]
    pruned: int


class TsdbStore:
    """Persists a ``Tsdb`` and answers queries from the database plus memory."""

    def __init__(self, engine: AsyncEngine, tsdb: Tsdb) -> None:
        self._engine = engine
        self._tsdb = tsdb
        self._pending: list[Bucket] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Start persisting every 10 s and maintaining every ``maintenance_interval_s``."""
        self._task = asyncio.create_task(self._run(), name="tokenhub-tsdb")

    async def stop(self) -> None:
        """Stop the task and write every bucket, the unfinished one too."""
        if self._task is not None:
            self._stopping.set()  # not cancelled: a write in progress finishes first
            await self._task
            self._task = None
        async with self._lock:
            self._pending.extend(self._tsdb.drain())
            try:
                await self._write_pending()
            except SQLAlchemyError:
                log.exception("could not save the TSDB's last buckets; they are lost")

    async def persist(self) -> int:
        """Write the buckets whose 10 seconds are over; return how many."""
        async with self._lock:
            self._pending.extend(self._tsdb.seal())
            return await self._write_pending()

    async def maintain(self) -> Maintenance:
        """Persist, roll finished minutes and hours up, delete rows past retention."""
        async with self._lock:
            self._pending.extend(self._tsdb.seal())
            await self._write_pending()
            now = self._tsdb.clock.time()
            async with self._engine.begin() as conn:
                rolled = {
                    MINUTE_S: await _rollup(conn, RAW_S, MINUTE_S, now),
                    HOUR_S: await _rollup(conn, MINUTE_S, HOUR_S, now),
                }
                pruned = await self._prune(conn, now)
        return Maintenance(rolled, pruned)

    async def query(
        self,
        metric: str,
        plan: Plan,
        *,
        model: str | None = None,
        provider: str | None = None,
        group: Group = "series",
    ) -> list[Series]:
        """``metric`` over ``plan``: stored buckets plus those still in memory."""
        evaluation = Evaluation(metric, plan, model=model, provider=provider, group=group)
        async with self._lock:
            await self._read_into(evaluation)
            evaluation.add(self._pending)
            evaluation.add(self._tsdb.open_buckets())
        return evaluation.series()

    async def _read_into(self, evaluation: Evaluation) -> None:
        # Streamed in slices, so a long range never holds the event loop for long.
        async with self._engine.connect() as conn:
            result = await conn.stream(_query_statement(evaluation))
            async for rows in result.partitions(ROWS_PER_SLICE):
                evaluation.add(_bucket(row) for row in rows)

    async def _write_pending(self) -> int:
        batch = self._pending
        if not batch:
            return 0
        try:
            async with self._engine.begin() as conn:
                await conn.execute(TSDB_POINTS.insert(), [to_row(b) for b in batch])
        except SQLAlchemyError:
            if len(self._pending) > MAX_PENDING:
                log.warning("TSDB write backlog full; dropping the oldest buckets")
                del self._pending[: len(self._pending) - MAX_PENDING]
            raise
        self._pending = []
        return len(batch)

    async def _prune(self, conn: AsyncConnection, now: float) -> int:
        settings = self._tsdb.settings
        pruned = 0
        for tier in TIERS:
            horizon = now - retention_s(settings, tier)
            stmt = delete(TSDB_POINTS).where(TSDB_POINTS.c.tier == tier, TSDB_POINTS.c.ts < horizon)
            pruned += (await conn.execute(stmt)).rowcount
        return pruned

    async def _run(self) -> None:
        clock = self._tsdb.clock
        interval = self._tsdb.settings.maintenance_interval_s
        due = clock.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), min(RAW_S, interval))
                return
            try:
                if clock.monotonic() >= due:
                    due = clock.monotonic() + interval
                    await self.maintain()
                else:
                    await self.persist()
            except SQLAlchemyError:
                log.exception("TSDB write or maintenance failed; will retry")


def _query_statement(evaluation: Evaluation) -> Select[Any]:
    """The plan's tier, plus finer rows not yet rolled into it: each bucket counted once."""
    plan, t = evaluation.plan, TSDB_POINTS.c
    histogram = evaluation.definition.histogram
    in_range = and_(t.ts >= plan.start, t.ts < plan.end)
    wanted = and_(t.tier == plan.tier, in_range)
    finer = [tier for tier in TIERS if tier < plan.tier]
    if finer:
        wanted = or_(wanted, and_(t.tier.in_(finer), t.rolled.is_(False), in_range))
    columns = _columns(latency=histogram == "latency", ttft=histogram == "ttft")
    stmt = select(*columns).where(wanted)
    if evaluation.model is not None:
        stmt = stmt.where(t.model == evaluation.model)
    if evaluation.provider is not None:
        stmt = stmt.where(t.provider == evaluation.provider)
    return stmt


async def _rollup(conn: AsyncConnection, fine: int, coarse: int, now: float) -> int:
    """Merge the finished, not yet rolled ``fine`` rows into ``coarse`` rows; mark them."""
    t = TSDB_POINTS.c
    stmt = select(*_columns()).where(
        t.tier == fine, t.rolled.is_(False), t.ts < floor_to(now, coarse)
    )
    rows = (await conn.execute(stmt)).all()
    if not rows:
        return 0
    merged = rollup((_bucket(row) for row in rows), coarse)
    await conn.execute(TSDB_POINTS.insert(), [to_row(b) for b in merged])
    ids = [row[0] for row in rows]
    for i in range(0, len(ids), ID_CHUNK):
        chunk = ids[i : i + ID_CHUNK]
        await conn.execute(update(TSDB_POINTS).where(t.id.in_(chunk)).values(rolled=True))
    return len(rows)
