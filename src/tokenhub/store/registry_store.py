"""Persistence of API-managed providers, models and routing settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.store.engine import create_engine
from tokenhub.store.tables import ModelRow, ProviderRow, RoutingConfigRow

PROVIDERS = ProviderRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it
MODELS = ModelRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it
ROUTING = RoutingConfigRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it
ROUTING_SETTINGS_KEY = "settings"


async def holds_providers(url: str) -> bool:
    """Whether the store at ``url`` holds any provider (False when it has none or no schema).

    A SQLite file that does not exist is not created just to ask.
    """
    if _missing_sqlite_file(url):
        return False
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(select(PROVIDERS.c.id).limit(1))).first()
    except (SQLAlchemyError, OSError):
        return False
    else:
        return row is not None
    finally:
        await engine.dispose()


def _missing_sqlite_file(url: str) -> bool:
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite":
        return False
    return not database or database == ":memory:" or not Path(database).exists()


async def load_registry(engine: AsyncEngine) -> tuple[list[ProviderConfig], list[ModelConfig]]:
    """Every stored provider and model."""
    async with engine.connect() as conn:
        providers = (await conn.execute(select(PROVIDERS.c.data))).scalars().all()
        models = (await conn.execute(select(MODELS.c.data))).scalars().all()
    return (
        [ProviderConfig.model_validate(p) for p in providers],
        [ModelConfig.model_validate(m) for m in models],
    )


async def save_provider(engine: AsyncEngine, config: ProviderConfig, now: float) -> None:
    """Insert or replace a provider."""
    data = config.model_dump(mode="json")
    async with engine.begin() as conn:
        updated = await conn.execute(
            update(PROVIDERS)
            .where(PROVIDERS.c.id == config.id)
            .values(type=config.type, data=data, updated_at=now)
        )
        if updated.rowcount == 0:
            await conn.execute(
                insert(PROVIDERS).values(
                    id=config.id, type=config.type, data=data, created_at=now, updated_at=now
                )
            )


async def delete_provider(engine: AsyncEngine, provider_id: str) -> None:
    """Delete a provider (the caller has checked no model uses it)."""
    async with engine.begin() as conn:
        await conn.execute(delete(PROVIDERS).where(PROVIDERS.c.id == provider_id))


async def save_model(engine: AsyncEngine, config: ModelConfig, now: float) -> None:
    """Insert or replace a model."""
    data = config.model_dump(mode="json")
    async with engine.begin() as conn:
        updated = await conn.execute(
            update(MODELS)
            .where(MODELS.c.id == config.id)
            .values(provider_id=config.provider, data=data, updated_at=now)
        )
        if updated.rowcount == 0:
            await conn.execute(
                insert(MODELS).values(
                    id=config.id,
                    provider_id=config.provider,
                    data=data,
                    created_at=now,
                    updated_at=now,
                )
            )


async def delete_model(engine: AsyncEngine, model_id: str) -> None:
    """Delete a model."""
    async with engine.begin() as conn:
        await conn.execute(delete(MODELS).where(MODELS.c.id == model_id))


async def load_routing(engine: AsyncEngine) -> dict[str, Any] | None:
    """The stored routing settings, or None when never changed."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(ROUTING.c.data).where(ROUTING.c.key == ROUTING_SETTINGS_KEY))
        ).first()
    return None if row is None else dict(row[0])


async def save_routing(engine: AsyncEngine, data: dict[str, Any], now: float) -> None:
    """Store the routing settings."""
    async with engine.begin() as conn:
        await conn.execute(delete(ROUTING).where(ROUTING.c.key == ROUTING_SETTINGS_KEY))
        await conn.execute(
            insert(ROUTING).values(key=ROUTING_SETTINGS_KEY, data=data, updated_at=now)
        )
