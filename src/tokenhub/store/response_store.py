"""Stored Responses API responses: read back by id within one API key's scope, and pruned.

Rows are written by the background writer (``row_of`` builds one); reads here see only
committed rows, so the caller flushes the writer before it concludes a row is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.store.tables import ResponseRow

RESPONSES = ResponseRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One stored response: who made it, what it was asked and what it answered."""

    id: str
    key_id: str | None
    created_at: float
    previous_response_id: str | None
    input_items: list[dict[str, Any]]
    response: dict[str, Any]


def row_of(stored: StoredResponse) -> dict[str, Any]:
    """The row the background writer inserts for ``stored``."""
    return {
        "id": stored.id,
        "key_id": stored.key_id,
        "created_at": stored.created_at,
        "previous_response_id": stored.previous_response_id,
        "input_items": stored.input_items,
        "response": stored.response,
    }


def _owned(response_id: str, key_id: str | None) -> ColumnElement[bool]:
    owner = RESPONSES.c.key_id
    mine: ColumnElement[bool] = owner.is_(None) if key_id is None else owner == key_id
    return and_(RESPONSES.c.id == response_id, mine)


async def load_response(
    engine: AsyncEngine, response_id: str, key_id: str | None
) -> StoredResponse | None:
    """The response ``response_id`` if ``key_id`` made it, else None."""
    async with engine.connect() as conn:
        found = (await conn.execute(select(RESPONSES).where(_owned(response_id, key_id)))).first()
    if found is None:
        return None
    row = found._mapping  # noqa: SLF001 - SQLAlchemy's public row mapping accessor
    return StoredResponse(
        row["id"],
        row["key_id"],
        row["created_at"],
        row["previous_response_id"],
        row["input_items"],
        row["response"],
    )


async def delete_response(engine: AsyncEngine, response_id: str, key_id: str | None) -> bool:
    """Delete the response if ``key_id`` made it; whether there was one."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(RESPONSES).where(_owned(response_id, key_id)))
    return bool(result.rowcount)


async def prune_responses(engine: AsyncEngine, older_than: float) -> int:
    """Delete responses created before ``older_than`` (UNIX seconds); return how many."""
    async with engine.begin() as conn:
        result = await conn.execute(delete(RESPONSES).where(RESPONSES.c.created_at < older_than))
    return int(result.rowcount or 0)
