"""Database operations the CLI runs without a daemon (``tokenhub db``)."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from tokenhub.errors import DatabaseUnavailableError
from tokenhub.store.engine import create_engine
from tokenhub.store.migrate import current_revision, head_revision, upgrade


async def upgrade_database(url: str) -> tuple[str | None, str]:
    """Migrate the database at ``url`` to head; return (revision before, revision after)."""
    engine = create_engine(url)
    try:
        before = await current_revision(engine)
        await upgrade(engine)
    except (SQLAlchemyError, OSError) as exc:
        raise _unavailable(url, exc) from None
    else:
        return before, head_revision()
    finally:
        await engine.dispose()


async def database_revision(url: str) -> tuple[str | None, str]:
    """Return (the database's revision, this build's head revision)."""
    engine = create_engine(url)
    try:
        return await current_revision(engine), head_revision()
    except (SQLAlchemyError, OSError) as exc:
        raise _unavailable(url, exc) from None
    finally:
        await engine.dispose()


def _unavailable(url: str, exc: Exception) -> DatabaseUnavailableError:
    # Imported here: the daemon's migration child runs this module, and settings (pydantic,
    # YAML) would add a fifth to its start-up for a function only an error needs.
    from tokenhub.config import mask_url

    reason = getattr(exc, "orig", None) or exc
    return DatabaseUnavailableError(
        f"database {mask_url(url)} is unavailable: {type(reason).__name__}"
    )


if __name__ == "__main__":  # the daemon migrates through this, in a child process
    import asyncio
    import os
    import sys

    try:
        asyncio.run(upgrade_database(os.environ["TOKENHUB_DB_URL"]))
    except DatabaseUnavailableError as exc:
        sys.stderr.write(f"{exc.message}\n")
        sys.exit(1)
