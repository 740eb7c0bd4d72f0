"""Persistence of consumer API keys (hashes only); their spend: ``spend_store``."""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.auth.apikeys import ApiKey
from tokenhub.store.tables import ApiKeyRow

KEYS = ApiKeyRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it


async def load_keys(engine: AsyncEngine) -> list[ApiKey]:
    """Every key, revoked ones included."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(KEYS))).mappings().all()
    return [ApiKey(**{k: row[k] for k in ApiKey.__dataclass_fields__}) for row in rows]


async def insert_key(engine: AsyncEngine, key: ApiKey) -> None:
    """Store a new key."""
    async with engine.begin() as conn:
        await conn.execute(insert(KEYS).values(**asdict(key)))


async def save_key(engine: AsyncEngine, key: ApiKey) -> None:
    """Write every field of an existing key."""
    values = asdict(key)
    key_id = values.pop("id")
    async with engine.begin() as conn:
        await conn.execute(update(KEYS).where(KEYS.c.id == key_id).values(**values))
