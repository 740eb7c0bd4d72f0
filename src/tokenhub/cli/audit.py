"""``tokenhub audit``: read the audit log, or follow it live."""

from __future__ import annotations

import time
from typing import Annotated, Any
from urllib.parse import urlencode

import typer

from tokenhub.cli.common import (
    JsonOpt,
    connect,
    console,
    handle_errors,
    print_json,
    print_table,
)

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
    client = connect(ctx)
    filters = {k: v for k, v in {"action": action, "actor": actor}.items() if v is not None}
    rows = client.get(f"/admin/v1/audit?{urlencode({**filters, 'limit': limit})}")["data"]
    rows.reverse()
    _print(rows, json=json, header=True)
    if not follow:
        return
    last = max((r["id"] for r in rows), default=0)
    try:
        while True:
            time.sleep(FOLLOW_POLL_S)
            query = urlencode({**filters, "after": last, "limit": 1000})
            new = client.get(f"/admin/v1/audit?{query}")["data"]
            if new:
                last = new[-1]["id"]
                _print(new, json=json, header=False)
    except KeyboardInterrupt:
        return


def _print(rows: list[dict[str, Any]], *, json: bool, header: bool) -> None:
    if json:
        for row in rows:
            print_json(row)
        return
    if header:
        table_rows = [_cells(r) for r in rows]
        print_table(None, ["when (UTC)", "actor", "action", "target", "outcome"], table_rows)
        return
    for row in rows:
        console.print("  ".join(str(c) for c in _cells(row)), markup=False)


def _cells(row: dict[str, Any]) -> list[Any]:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["ts"]))
    return [when, row["actor"], row["action"], row["target"] or "-", row["outcome"]]
