"""``tokenhub admin``: the admin token used by HTTP clients."""

from __future__ import annotations

import typer

from tokenhub.cli.common import (
    JsonOpt,
    connect,
    console,
    handle_errors,
    print_json,
)

app = typer.Typer(name="admin", help="Admin access.", no_args_is_help=True)
token_app = typer.Typer(
    name="token", help="The admin bearer token for --url.", no_args_is_help=True
)
app.add_typer(token_app)


@token_app.command("rotate")
@handle_errors
def rotate(
    ctx: typer.Context,
    json: JsonOpt = False,
) -> None:
    """Create a new admin token (the old one stops working) and print it once."""
    result = connect(ctx).post("/admin/v1/admin-token")
    if json:
        print_json(result)
        return
    console.print(f"admin token (shown once, store it safely): {result['token']}", markup=False)
