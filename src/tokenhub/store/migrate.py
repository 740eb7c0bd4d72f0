"""Alembic migrations run programmatically on the async engine (no alembic.ini needed).

Alembic itself (about 11 MB of memory) is imported only when a migration actually has to
run. Knowing the build's head and the database's revision needs no Alembic: the head is
read from the migration scripts' ``revision``/``down_revision`` lines (a test checks it
agrees with Alembic), the current revision from the ``alembic_version`` table.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
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


async def upgrade(engine: AsyncEngine, target: str = "head") -> None:
    """Apply every pending migration up to ``target`` in one transaction."""
    if target == "head" and await current_revision(engine) == head_revision():
        return
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade_sync, target)


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
