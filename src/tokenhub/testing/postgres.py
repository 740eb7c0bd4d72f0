"""A throwaway PostgreSQL database per test, created and dropped by the test itself."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"


@asynccontextmanager
async def temporary_database(prefix: str = "tokenhub_test") -> AsyncIterator[str]:
    """Create a uniquely named database, yield its async SQLAlchemy URL, then drop it."""
    import asyncpg

    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()
