"""``tokenhub serve``: run the daemon in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tokenhub.cli.common import ConfigOpt, handle_errors
from tokenhub.config import load_settings


@handle_errors
def serve(
    host: Annotated[
        str | None, typer.Option(help="TCP listen address [env: TOKENHUB_HOST].")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="TCP port; 0 picks a free one [env: TOKENHUB_PORT].")
    ] = None,
    socket: Annotated[
        Path | None, typer.Option(help="Unix socket path [env: TOKENHUB_SOCKET].")
    ] = None,
    db_url: Annotated[
        str | None, typer.Option("--db-url", help="SQLAlchemy async URL [env: TOKENHUB_DB_URL].")
    ] = None,
    config: ConfigOpt = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug, info, warning or error [env: TOKENHUB_LOG_LEVEL].")
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo", help="Serve simulated providers from a throwaway store (for trying it out)."
        ),
    ] = False,
    newcomer: Annotated[
        bool,
        typer.Option(
            "--newcomer",
            help="Like --demo, but only when no provider is configured (config or default store)"
            " and no --db-url is set.",
        ),
    ] = False,
) -> None:
    """Run the tokenhub daemon (HTTP and the local socket) until SIGTERM or Ctrl-C."""
    from tokenhub.daemon import run

    cli = {
        "host": host,
        "port": port,
        "socket": socket,
        "db_url": db_url,
        "log_level": log_level,
        "demo": True if demo else None,
    }
    loaded = load_settings(cli, config_file=config)
    raise typer.Exit(run(loaded, newcomer=newcomer))


def serve_main(args: list[str]) -> None:
    """Run ``tokenhub serve ARGS`` without building the whole CLI."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(context_settings={"help_option_names": ["-h", "--help"]})(serve)
    typer.main.get_command(app)(args=args, prog_name="tokenhub serve")
