"""Small named singleton values in the ``meta`` table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.store.tables import MetaRow

META = MetaRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it


async def get_meta(engine: AsyncEngine, key: str) -> dict[str, Any] | None:
    """The value stored under ``key``, or None."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(META.c.value).where(META.c.key == key))).first()
    return None if row is None else dict(row[0])


async def set_meta(engine: AsyncEngine, key: str, value: dict[str, Any], now: float) -> None:
    """Store ``value`` under ``key``, replacing any previous value, atomically."""
    async with engine.begin() as conn:
        await conn.execute(delete(META).where(META.c.key == key))
        await conn.execute(insert(META).values(key=key, value=value, updated_at=now))
