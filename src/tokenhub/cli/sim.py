"""``tokenhub sim``: run the provider simulator in the foreground until interrupted."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from tokenhub.sim import Simulator

EXIT_BAD_SCENARIO = 2


def sim(
    scenario: Annotated[
        Path | None,
        typer.Option(
            "--scenario",
            help="Scenario YAML file (default: the built-in scenario).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option("--port", help="Port to bind; 0 picks a free one.")] = 8900,
) -> None:
    """Serve simulated OpenAI, Anthropic and vLLM endpoints until SIGINT or SIGTERM."""
    from tokenhub.sim import ScenarioError, default_scenario, load_scenario, serve_until_signalled

    try:
        loaded = load_scenario(scenario) if scenario is not None else default_scenario()
    except ScenarioError as exc:
        if os.environ.get("TOKENHUB_RAISE_ERRORS") == "1":
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_SCENARIO) from None
    asyncio.run(serve_until_signalled(loaded, host, port, _announce))


def _announce(running: Simulator) -> None:
    urls = ", ".join(f"{p.name}={running.base_url(p.name)}" for p in running.scenario.providers)
    typer.echo(f"tokenhub sim listening on {running.url} ({urls})")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add the ``sim`` command to ``app``."""
    app.command("sim")(sim)


if __name__ == "__main__":
    _standalone = typer.Typer(add_completion=False)
    register(_standalone)
    _standalone()
