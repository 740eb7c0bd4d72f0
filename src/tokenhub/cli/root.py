"""The root Typer application; each noun lives in its own sub-app module."""

import typer

from tokenhub import __version__

app = typer.Typer(name="tokenhub", no_args_is_help=True, add_completion=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tokenhub {__version__}")
        raise typer.Exit


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Tokenhub: an LLM gateway that routes, fails over and orchestrates requests."""


def main() -> None:
    """Entry point of the console script."""
    app()
