"""The CLI reference in Markdown, generated from the Typer app (embedded in docs/CLI.md by cog)."""

from __future__ import annotations

import typer
from typer.cli import get_docs_for_click

from tokenhub.cli.root import app


def cli_reference() -> str:
    """Markdown for every command, its usage, arguments and options."""
    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="tokenhub")
    text = get_docs_for_click(obj=command, ctx=ctx, name="tokenhub", indent=1)
    return text.strip() + "\n"
