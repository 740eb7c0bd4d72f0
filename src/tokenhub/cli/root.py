"""The root Typer application; each noun lives in its own sub-app module."""

from __future__ import annotations

import typer

from tokenhub import __version__
from tokenhub.cli import (
    admin,
    audit,
    config_cmd,
    db,
    keys,
    models,
    observe,
    providers,
    route,
    sim,
    vault,
)
from tokenhub.cli.common import Connection, SocketOpt, TokenFileOpt, UrlOpt
from tokenhub.cli.serve import serve
from tokenhub.cli.status import status

app = typer.Typer(
    name="tokenhub",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tokenhub {__version__}")
        raise typer.Exit


@app.callback()
def root(
    ctx: typer.Context,
    socket: SocketOpt = None,
    url: UrlOpt = None,
    token_file: TokenFileOpt = None,
    version: bool = typer.Option(  # noqa: ARG001 - handled by its eager callback
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Tokenhub: an LLM gateway that routes, fails over and orchestrates requests.

    Commands that talk to the daemon use its Unix socket, or --url with an admin token.
    """
    ctx.obj = Connection(socket, url, token_file)


app.command("serve")(serve)
app.command("status")(status)
app.command("health")(observe.health)
app.command("events")(observe.events)
app.add_typer(observe.logs_app)
app.add_typer(config_cmd.app)
app.add_typer(db.app)
app.add_typer(providers.app)
app.add_typer(models.app)
app.add_typer(route.app)
app.add_typer(keys.app)
app.add_typer(vault.app)
app.add_typer(audit.app)
app.add_typer(admin.app)
sim.register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
