"""Reading the audit log, filtered and paged by id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.store.tables import AuditRow

AUDIT = AuditRow.__table__  # type: ignore[attr-defined]


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
    stmt = select(AUDIT)
    for column, value in (
        (AUDIT.c.actor, q.actor),
        (AUDIT.c.action, q.action),
        (AUDIT.c.target, q.target),
        (AUDIT.c.outcome, q.outcome),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if q.since is not None:
        stmt = stmt.where(AUDIT.c.ts >= q.since)
    if q.until is not None:
        stmt = stmt.where(AUDIT.c.ts < q.until)
    if q.before is not None:
        stmt = stmt.where(AUDIT.c.id < q.before)
    if q.after is not None:
        stmt = stmt.where(AUDIT.c.id > q.after).order_by(AUDIT.c.id.asc())
    else:
        stmt = stmt.order_by(AUDIT.c.id.desc())
    async with engine.connect() as conn:
        rows = (await conn.execute(stmt.limit(q.limit))).mappings().all()
    return [dict(row) for row in rows]
