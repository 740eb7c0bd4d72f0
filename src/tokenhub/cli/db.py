"""``tokenhub db``: migrate the database and show its revision (works without a daemon)."""

from __future__ import annotations

import asyncio

import typer

from tokenhub.cli.common import ConfigOpt, JsonOpt, console, handle_errors, print_json
from tokenhub.config import load_settings, mask_url

app = typer.Typer(name="db", help="Database migrations.", no_args_is_help=True)


@app.command("upgrade")
@handle_errors
def upgrade(config: ConfigOpt = None, db_url: str | None = typer.Option(None, "--db-url")) -> None:
    """Apply every pending migration."""
    from tokenhub.store.offline import upgrade_database

    loaded = load_settings({"db_url": db_url}, config_file=config)
    before, after = asyncio.run(upgrade_database(loaded.db_url))
    console.print(f"{mask_url(loaded.db_url)}: {before or 'empty'} -> {after}", markup=False)


@app.command("status")
@handle_errors
def status(
    config: ConfigOpt = None,
    db_url: str | None = typer.Option(None, "--db-url"),
    json: JsonOpt = False,
) -> None:
    """Show the database's migration revision and this build's head."""
    from tokenhub.store.offline import database_revision

    loaded = load_settings({"db_url": db_url}, config_file=config)
    current, head = asyncio.run(database_revision(loaded.db_url))
    report = {
        "database": mask_url(loaded.db_url),
        "current": current,
        "head": head,
        "up_to_date": current == head,
    }
    if json:
        print_json(report)
        return
    state = "up to date" if current == head else "needs 'tokenhub db upgrade'"
    console.print(
        f"{report['database']}: at {current or 'nothing'}, head {head} ({state})", markup=False
    )
