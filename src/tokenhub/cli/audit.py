"""``tokenhub audit``: read the audit log, or follow it live."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from tokenhub.cli.common import (
    Col,
    JsonOpt,
    connect,
    handle_errors,
)
from tokenhub.cli.rows import show_rows

app = typer.Typer(name="audit", help="The audit log of admin actions.", no_args_is_help=True)
FOLLOW_POLL_S = 1.0


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    action: Annotated[
        str | None, typer.Option(help="Only this action.", show_default=False)
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new rows.")] = False,
    json: JsonOpt = False,
) -> None:
    """Show recent admin actions (who, what, target, outcome); --follow for new ones."""
    filters = {k: v for k, v in {"action": action, "actor": actor}.items() if v is not None}
    show_rows(
        connect(ctx),
        "/admin/v1/audit",
        filters,
        limit=limit,
        follow=follow,
        json=json,
        columns=[
            Col("when (UTC)"),
            Col("actor", key=True),
            Col("action", key=True),
            Col("target", key=True),
            Col("outcome", key=True),
        ],
        cells=_cells,
    )


def _cells(row: dict[str, Any]) -> list[Any]:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["ts"]))
    return [when, row["actor"], row["action"], row["target"] or "-", row["outcome"]]
