"""Reading and pruning the request log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.store.paging import log_query
from tokenhub.store.tables import RequestLogRow

LOG = RequestLogRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it


@dataclass(slots=True)
class RequestQuery:
    """Filters and a cursor (``before`` pages back, ``after`` follows new rows)."""

    model: str | None = None
    provider: str | None = None
    status: str | None = None
    endpoint: str | None = None
    key: str | None = None
    mode: str | None = None
    request_id: str | None = None
    since: float | None = None
    until: float | None = None
    before: int | None = None
    after: int | None = None
    limit: int = 100


async def query_requests(engine: AsyncEngine, q: RequestQuery) -> list[dict[str, Any]]:
    """Matching rows, newest first (oldest first when following with ``after``)."""
    stmt = log_query(
        LOG,
        [
            (LOG.c.model, q.model),
            (LOG.c.provider, q.provider),
            (LOG.c.endpoint, q.endpoint),
            (LOG.c.key_name, q.key),
            (LOG.c.mode, q.mode),
            (LOG.c.request_id, q.request_id),
            (LOG.c.status, None if q.status == "error" else q.status),
        ],
        since=q.since,
        until=q.until,
        before=q.before,
        after=q.after,
        limit=q.limit,
    )
    if q.status == "error":
        stmt = stmt.where(LOG.c.status != "ok")
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return [dict(row) for row in rows]


async def prune_requests(engine: AsyncEngine, older_than: float) -> int:
    """Delete rows older than ``older_than`` (UNIX seconds); return how many."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(LOG).where(LOG.c.ts < older_than))
    return int(result.rowcount or 0)
