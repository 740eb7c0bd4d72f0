"""``tokenhub keys``: consumer API keys (create shows the key once)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tokenhub.cli.common import (
    Col,
    JsonOpt,
    connect,
    console,
    handle_errors,
    print_json,
    print_pairs,
    print_table,
)

app = typer.Typer(name="keys", help="Consumer API keys.", no_args_is_help=True)
KeyRef = Annotated[str, typer.Argument(metavar="KEY", help="Key id or name.")]


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


@app.command("create")
@handle_errors
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="A unique name for the key.")],
    scopes: Annotated[
        str, typer.Option(help="Comma-separated scopes; chat is the only one yet.")
    ] = "chat",
    budget_usd: Annotated[
        float | None,
        typer.Option("--budget-usd", help="Spend limit per period.", show_default=False),
    ] = None,
    period: Annotated[
        str | None, typer.Option(help="day, week, month (default with a budget) or total.")
    ] = None,
    rpm: Annotated[
        int | None, typer.Option(help="Requests per minute.", show_default=False)
    ] = None,
    models: Annotated[
        str | None, typer.Option(help="Comma-separated models it may use.", show_default=False)
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    body: dict[str, Any] = {"name": name, "scopes": _csv(scopes)}
    optional = {"budget_usd": budget_usd, "period": period, "rpm": rpm, "models": _csv(models)}
    body.update({k: v for k, v in optional.items() if v is not None})
    result = connect(ctx).post("/admin/v1/keys", body)
    if json:
        print_json(result)
        return
    console.print(f"key (shown once, store it safely): {result['key']}", markup=False)
    _pairs(result)


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    json: JsonOpt = False,
) -> None:
    """List keys (never the keys themselves)."""
    data = connect(ctx).get("/admin/v1/keys")["data"]
    if json:
        print_json(data)
        return
    rows = [
        [k["name"], k["prefix"], ",".join(k["scopes"]), _budget(k), k["rpm"] or "-", k["status"]]
        for k in data
    ]
    columns = [
        Col("name", key=True),
        Col("prefix", key=True),
        Col("scopes"),
        Col("spent / budget"),
        Col("rpm", justify="right", drop=1),
        Col("status", key=True),
    ]
    print_table(None, columns, rows)


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    key: KeyRef,
    json: JsonOpt = False,
) -> None:
    """Show one key."""
    result = connect(ctx).get(f"/admin/v1/keys/{key}")
    if json:
        print_json(result)
    else:
        _pairs(result)


@app.command("revoke")
@handle_errors
def revoke(
    ctx: typer.Context,
    key: KeyRef,
) -> None:
    """Revoke a key at once."""
    result = connect(ctx).post(f"/admin/v1/keys/{key}/revoke")
    console.print(f"revoked {result['name']} ({result['prefix']})", markup=False)


@app.command("rotate")
@handle_errors
def rotate(
    ctx: typer.Context,
    key: KeyRef,
    json: JsonOpt = False,
) -> None:
    """Give a key a new secret (limits and spend stay); the old one stops working."""
    result = connect(ctx).post(f"/admin/v1/keys/{key}/rotate")
    if json:
        print_json(result)
        return
    console.print(f"new key (shown once, store it safely): {result['key']}", markup=False)


def _budget(key: dict[str, Any]) -> str:
    if key["budget_usd"] is None:
        return f"${key['spent_usd']:.4f} / -"
    return f"${key['spent_usd']:.4f} / ${key['budget_usd']:.2f} per {key['period']}"


def _pairs(key: dict[str, Any]) -> None:
    print_pairs(
        [
            ("name", key["name"]),
            ("id", key["id"]),
            ("prefix", key["prefix"]),
            ("scopes", ", ".join(key["scopes"])),
            ("models", ", ".join(key["models"]) or "any"),
            ("spent / budget", _budget(key)),
            ("rpm", key["rpm"] or "unlimited"),
            ("status", key["status"]),
        ]
    )
