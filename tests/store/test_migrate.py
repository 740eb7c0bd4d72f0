"""Migrations: they build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect
from sqlmodel import SQLModel

import tokenhub.store.tables  # noqa: F401 - registers the tables on SQLModel.metadata
from tokenhub.store.engine import create_engine
from tokenhub.store.migrate import create_fresh, current_revision, head_revision, upgrade
from tokenhub.testing.postgres import temporary_database

EXPECTED_TABLES = {
    "providers",
    "models",
    "routing_config",
    "audit_log",
    "request_log",
    "rewards",
    "api_keys",
    "meta",
}


async def _schema_diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), SQLModel.metadata)
            )
    finally:
        await engine.dispose()


async def test_upgrade_empty_sqlite_file(tmp_path):
    """An empty SQLite file goes from no revision to head with every table."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    engine = create_engine(url)
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert tables >= EXPECTED_TABLES
        await upgrade(engine)  # idempotent
    finally:
        await engine.dispose()


async def test_migrations_match_models_sqlite(tmp_path):
    """The migrated SQLite schema equals what the SQLModel tables declare."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'diff.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    await engine.dispose()
    assert await _schema_diff(url) == []


async def test_sqlite_pragmas(tmp_path):
    """SQLite runs in WAL mode with foreign keys on and a busy timeout."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
            busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        assert (mode, fks, busy) == ("wal", 1, 5000)
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_upgrade_postgres():
    """Migrations apply on PostgreSQL and leave no difference from the models."""
    async with temporary_database() as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            assert await current_revision(engine) == head_revision()
        finally:
            await engine.dispose()
        assert await _schema_diff(url) == []


async def _reflected(url: str) -> MetaData:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            metadata = MetaData()
            await conn.run_sync(metadata.reflect)
            return metadata
    finally:
        await engine.dispose()


async def _fresh_vs_migrated(fresh_url: str, migrated_url: str) -> list[object]:
    """What differs between a database made by ``create_fresh`` and a migrated one."""
    engine = create_engine(migrated_url)
    # The head's name rather than "head": the whole migration line, not create_fresh.
    await upgrade(engine, head_revision())
    await engine.dispose()
    engine = create_engine(fresh_url)
    try:
        assert await create_fresh(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
    migrated = await _reflected(migrated_url)
    assert "alembic_version" in migrated.tables
    engine = create_engine(fresh_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(
                        c, opts={"compare_type": True, "compare_server_default": True}
                    ),
                    migrated,
                )
            )
    finally:
        await engine.dispose()


async def test_fresh_schema_equals_migrated_sqlite(tmp_path):
    """An empty database made at once is the schema the migrations build, column by column."""
    fresh = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    migrated = f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}"
    assert await _fresh_vs_migrated(fresh, migrated) == []


@pytest.mark.postgres
async def test_fresh_schema_equals_migrated_postgres():
    """The same on PostgreSQL."""
    async with temporary_database() as fresh, temporary_database() as migrated:
        assert await _fresh_vs_migrated(fresh, migrated) == []


async def test_create_fresh_refuses_a_database_with_tables(tmp_path):
    """A database holding any table is left to the migrations."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'used.db'}"
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE somebody_else (x INTEGER)")
        assert not await create_fresh(engine)
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()


def test_head_agrees_with_alembic():
    """The head read from the scripts is the one Alembic computes."""
    from alembic.script import ScriptDirectory

    from tokenhub.store.migrate import alembic_config

    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def _loads_alembic(script: str) -> bool:
    """Run ``script`` in a fresh interpreter; whether Alembic was loaded at its end."""
    import subprocess
    import sys

    code = (
        "import asyncio, sys\n"
        "from tokenhub.store.engine import create_engine\n"
        "from tokenhub.store.migrate import upgrade, current_revision, head_revision\n"
        f"{script}"
        "print(any(m.startswith('alembic') for m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return out.stdout.strip() == "True"


def test_daemon_start_does_not_import_alembic_when_current(tmp_path):
    """With the schema current, starting the app and checking readiness loads no Alembic."""
    assert not _loads_alembic(
        f"url = 'sqlite+aiosqlite:///{tmp_path / 'a.db'}'\n"
        "async def main():\n"
        "    e = create_engine(url); await upgrade(e, head_revision()); await e.dispose()\n"
        "asyncio.run(main())\n"
        "for m in [m for m in sys.modules if m.startswith('alembic')]: del sys.modules[m]\n"
        "async def again():\n"
        "    e = create_engine(url); await upgrade(e)\n"
        "    assert await current_revision(e) == head_revision(); await e.dispose()\n"
        "asyncio.run(again())\n"
    )


def test_empty_database_upgrade_does_not_import_alembic(tmp_path):
    """An empty database reaches head without loading Alembic (the daemon's first start)."""
    assert not _loads_alembic(
        f"url = 'sqlite+aiosqlite:///{tmp_path / 'e.db'}'\n"
        "async def main():\n"
        "    e = create_engine(url); await upgrade(e)\n"
        "    assert await current_revision(e) == head_revision(); await e.dispose()\n"
        "asyncio.run(main())\n"
    )


def test_migrating_loads_alembic(tmp_path):
    """The check above can fail: walking the migrations does load Alembic."""
    assert _loads_alembic(
        f"url = 'sqlite+aiosqlite:///{tmp_path / 'm.db'}'\n"
        "async def main():\n"
        "    e = create_engine(url); await upgrade(e, head_revision()); await e.dispose()\n"
        "asyncio.run(main())\n"
    )


async def test_upgrade_in_child_process(tmp_path):
    """The daemon's migration path runs Alembic in a child process and reaches head."""
    from tokenhub.store.migrate import upgrade_in_child

    url = f"sqlite+aiosqlite:///{tmp_path / 'child.db'}"
    await upgrade_in_child(url)
    engine = create_engine(url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_upgrade_in_child_reports_failure(tmp_path):
    """A migration that cannot run is one clear error, without the URL's password."""
    from tokenhub.errors import DatabaseUnavailableError
    from tokenhub.store.migrate import upgrade_in_child

    with pytest.raises(DatabaseUnavailableError) as info:
        await upgrade_in_child("postgresql+asyncpg://u:pw-secret-1@127.0.0.1:1/none")
    assert "pw-secret-1" not in info.value.message
    assert "unavailable" in info.value.message


async def _create_together(url: str) -> list[bool]:
    engines = [create_engine(url) for _ in range(3)]
    try:
        return list(await asyncio.gather(*(create_fresh(e) for e in engines)))
    finally:
        for engine in engines:
            await engine.dispose()


async def test_replicas_creating_one_sqlite_database_together(tmp_path):
    """Three engines creating the same empty database at once: one creates, two find it."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    assert sorted(await _create_together(url)) == [False, False, True]
    assert await _schema_diff(url) == []


@pytest.mark.postgres
async def test_replicas_creating_one_postgres_database_together():
    """The same on PostgreSQL (an advisory lock serialises them)."""
    async with temporary_database() as url:
        assert sorted(await _create_together(url)) == [False, False, True]
        assert await _schema_diff(url) == []


async def test_failed_creation_leaves_the_database_empty(tmp_path, monkeypatch):
    """A failure half-way (after the tables, before the stamp) rolls every table back."""
    from tokenhub.store import migrate

    url = f"sqlite+aiosqlite:///{tmp_path / 'half.db'}"

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(migrate._VERSION_TABLE, "create", refuse)
    engine = create_engine(url)
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            await create_fresh(engine)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert tables == []
    finally:
        await engine.dispose()
