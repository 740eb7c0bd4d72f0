"""Alembic migrations run programmatically on the async engine (no alembic.ini needed).

Alembic itself (about 11 MB of memory) is imported only when a migration actually has to
run. Knowing the build's head and the database's revision needs no Alembic: the head is
read from the migration scripts' ``revision``/``down_revision`` lines (a test checks it
agrees with Alembic), the current revision from the ``alembic_version`` table.

An empty database is not walked through every migration: the tables are created from the
models and the database is stamped at head (Alembic's cookbook recipe for building an up
to date database from scratch), without importing Alembic. tests/store/test_migrate.py
checks that this schema and the migrated one are the same. A migration that moves data
must keep that true for empty databases too (there is none so far).
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    text,
)
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.errors import DatabaseUnavailableError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_REVISION = re.compile(r'^revision(?:: str)? = "([^"]+)"', re.MULTILINE)
_DOWN = re.compile(r'^down_revision(?:: [^=]+)? = (?:"([^"]+)"|None)', re.MULTILINE)


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations shipped inside the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@functools.cache
def head_revision() -> str:
    """The newest migration revision this build ships (the one no script revises)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = script.read_text(encoding="utf-8")
        if (found := _REVISION.search(source)) is not None:
            revisions.add(found.group(1))
            down = _DOWN.search(source)
            if down is not None and down.group(1):
                revised.add(down.group(1))
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"migrations must form one line; heads: {sorted(heads)}")
    return heads.pop()


SCHEMA_LOCK_KEY = 0x746F6B68  # "tokh": PostgreSQL advisory lock held while creating the schema
_VERSION_TABLE = Table(  # as Alembic creates it
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


async def upgrade(engine: AsyncEngine, target: str = "head") -> None:
    """Apply every pending migration up to ``target`` in one transaction.

    An empty database going to head gets the current schema at once (:func:`create_fresh`).
    """
    if target == "head" and await _at_head_without_alembic(engine):
        return
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_sync, target)


async def migrate_to_head(engine: AsyncEngine, url: str, *, in_child: bool) -> None:
    """Bring the database at ``url`` to head as the daemon starts.

    Current or empty: no Alembic at all. Older: Alembic migrates it, in a child process
    when ``in_child`` (:func:`upgrade_in_child`), so its modules stay out of the daemon.
    """
    if await _at_head_without_alembic(engine):
        return
    if in_child:
        await upgrade_in_child(url)
    else:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_sync, "head")


async def _at_head_without_alembic(engine: AsyncEngine) -> bool:
    """True when the database is at head, or was empty and has just been created at head."""
    current = await current_revision(engine)
    return current == head_revision() or (current is None and await create_fresh(engine))


async def create_fresh(engine: AsyncEngine) -> bool:
    """Create the head schema in a database holding no table; False if it holds any.

    The tables from the models, then the ``alembic_version`` stamp, in one transaction that
    first takes the database's schema lock (``_lock_schema``), so a failure leaves the
    database empty and replicas starting together create it once: the others wait, then
    find the tables and return False.
    """
    async with engine.begin() as conn:
        return bool(await conn.run_sync(_create_fresh_sync))


def _create_fresh_sync(conn: Connection) -> bool:
    from sqlmodel import SQLModel

    import tokenhub.store.tables  # noqa: F401 - registers the tables on SQLModel.metadata

    _lock_schema(conn)
    if inspect(conn).get_table_names():
        return False
    SQLModel.metadata.create_all(conn)
    _VERSION_TABLE.create(conn)
    conn.execute(_VERSION_TABLE.insert().values(version_num=head_revision()))
    return True


def _lock_schema(conn: Connection) -> None:
    """Hold the database's write lock until this transaction ends.

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock now (others wait, up to the busy
    timeout) and puts the DDL inside the transaction; Python's driver would otherwise
    commit each ``CREATE TABLE`` on its own. PostgreSQL: a transaction-scoped advisory
    lock; its DDL is transactional anyway.
    """
    dialect = conn.dialect.name
    if dialect == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})


async def upgrade_in_child(url: str) -> None:
    """Migrate to head in a short-lived child process (``tokenhub.store.offline``).

    The daemon uses this so Alembic's modules never take up its own memory. The URL goes
    through the environment, not the command line, where it could show a password.
    """
    env = {**os.environ, "TOKENHUB_DB_URL": url}
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tokenhub.store.offline",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await child.communicate()
    if child.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        raise DatabaseUnavailableError(lines[-1] if lines else "database migration failed")


def _upgrade_sync(conn: Connection, target: str) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    async with engine.connect() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except (OperationalError, ProgrammingError):  # no table yet: an empty database
            return None
    return None if row is None else str(row[0])
