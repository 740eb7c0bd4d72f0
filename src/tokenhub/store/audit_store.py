"""Reading the audit log, filtered and paged by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.store.paging import log_query
from tokenhub.store.tables import AuditRow

AUDIT = AuditRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it


@dataclass(slots=True)
class AuditQuery:
    """Filters and a cursor: ``before`` pages back (newest first), ``after`` follows forward."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: float | None = None
    until: float | None = None
    before: int | None = None
    after: int | None = None
    limit: int = 100


async def query_audit(engine: AsyncEngine, q: AuditQuery) -> list[dict[str, Any]]:
    """Matching rows as dicts, newest first (oldest first when following with ``after``)."""
    stmt = log_query(
        AUDIT,
        [
            (AUDIT.c.actor, q.actor),
            (AUDIT.c.action, q.action),
            (AUDIT.c.target, q.target),
            (AUDIT.c.outcome, q.outcome),
        ],
        since=q.since,
        until=q.until,
        before=q.before,
        after=q.after,
        limit=q.limit,
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt)).mappings().all()
    return [dict(row) for row in rows]
