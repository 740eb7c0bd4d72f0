"""Filtered, id-cursor queries over append-only log tables (audit log, request log)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Select, Table, select


def log_query(
    table: Table,
    equals: Iterable[tuple[Column[Any], Any]],
    *,
    since: float | None,
    until: float | None,
    before: int | None,
    after: int | None,
    limit: int,
) -> Select[Any]:
    """Rows matching the non-None filters: newest first, or oldest first after ``after``."""
    stmt = select(table)
    for column, value in equals:
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(table.c.ts >= since)
    if until is not None:
        stmt = stmt.where(table.c.ts < until)
    if before is not None:
        stmt = stmt.where(table.c.id < before)
    if after is not None:
        return stmt.where(table.c.id > after).order_by(table.c.id.asc()).limit(limit)
    return stmt.order_by(table.c.id.desc()).limit(limit)
