"""``tokenhub providers``: add, list, show, update, remove and test providers."""

from __future__ import annotations

import sys
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
from tokenhub.errors import InvalidRequestError

app = typer.Typer(name="providers", help="Manage providers.", no_args_is_help=True)

TypeOpt = Annotated[str | None, typer.Option("--type", help="openai, anthropic or vllm.")]
BaseUrlOpt = Annotated[
    list[str] | None,
    typer.Option("--base-url", help="Endpoint base URL; repeat for several (vLLM)."),
]
CredentialOpt = Annotated[
    str | None, typer.Option("--credential", help="env:VAR_NAME, escrow or none.")
]
TimeoutOpt = Annotated[float | None, typer.Option("--timeout-s", help="Upstream timeout.")]
HeaderOpt = Annotated[
    list[str] | None, typer.Option("--header", help="Extra header NAME=VALUE; repeatable.")
]
EnabledOpt = Annotated[
    bool | None,
    typer.Option("--enabled/--disabled", help="Route to it or not.", show_default=False),
]


PROVIDER_COLUMNS = [
    Col("id", key=True),
    Col("type"),
    Col("base url"),
    Col("credential"),
    Col("enabled", drop=2),
    Col("source", drop=1),
]


def _fields(
    type_: str | None,
    base_url: list[str] | None,
    credential: str | None,
    timeout_s: float | None,
    header: list[str] | None,
    enabled: bool | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if type_ is not None:
        data["type"] = type_
    if base_url:
        if len(base_url) == 1:
            data["base_url"], data["base_urls"] = base_url[0], []
        else:
            data["base_urls"], data["base_url"] = base_url, None
    if credential is not None:
        data["credential"] = credential
    if timeout_s is not None:
        data["timeout_s"] = timeout_s
    if header:
        data["headers"] = dict(_header(h) for h in header)
    if enabled is not None:
        data["enabled"] = enabled
    return data


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise InvalidRequestError(f"--header needs NAME=VALUE, got '{text}'", param="header")
    return name.strip(), value.strip()


KeyStdinOpt = Annotated[
    bool,
    typer.Option("--key-stdin", help="Read the provider's API key from stdin (escrowed)."),
]


@app.command("add")
@handle_errors
def add(
    ctx: typer.Context,
    provider_id: Annotated[str, typer.Argument(metavar="ID", help="Provider id.")],
    type_: TypeOpt = None,
    base_url: BaseUrlOpt = None,
    credential: CredentialOpt = None,
    timeout_s: TimeoutOpt = None,
    header: HeaderOpt = None,
    enabled: EnabledOpt = None,
    key_stdin: KeyStdinOpt = False,
    json: JsonOpt = False,
) -> None:
    """Register a provider; with --key-stdin (or credential escrow) its key goes in the vault."""
    if key_stdin and credential is None:
        credential = "escrow"
    data = {"id": provider_id, **_fields(type_, base_url, credential, timeout_s, header, enabled)}
    client = connect(ctx)
    key = _read_key(provider_id, from_stdin=key_stdin) if credential == "escrow" else None
    result = client.post("/admin/v1/providers", data)
    if key is not None:
        client.request("PUT", f"/admin/v1/providers/{provider_id}/key", {"key": key})
    _show_one(result, json)


@app.command("set-key")
@handle_errors
def set_key(
    ctx: typer.Context,
    provider_id: Annotated[str, typer.Argument(metavar="ID")],
    key_stdin: KeyStdinOpt = False,
) -> None:
    """Escrow (or replace) a provider's API key in the vault; the vault must be unlocked."""
    key = _read_key(provider_id, from_stdin=key_stdin)
    connect(ctx).request("PUT", f"/admin/v1/providers/{provider_id}/key", {"key": key})
    console.print(f"key for {provider_id} stored in the vault", markup=False)


def _read_key(provider_id: str, *, from_stdin: bool) -> str:
    if from_stdin:
        key = sys.stdin.readline().strip()
        if not key:
            raise InvalidRequestError("expected the provider's API key on standard input")
        return key
    value: str = typer.prompt(f"API key for {provider_id}", hide_input=True)
    return value.strip()


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    json: JsonOpt = False,
) -> None:
    """List providers."""
    result = connect(ctx).get("/admin/v1/providers")
    if json:
        print_json(result["data"])
        return
    rows = [
        [p["id"], p["type"], ", ".join(_urls(p)), p["credential"], _on(p["enabled"]), p["source"]]
        for p in result["data"]
    ]
    print_table(None, PROVIDER_COLUMNS, rows)


@app.command("show")
@handle_errors
def show(
    ctx: typer.Context,
    provider_id: Annotated[str, typer.Argument(metavar="ID")],
    json: JsonOpt = False,
) -> None:
    """Show one provider."""
    _show_one(connect(ctx).get(f"/admin/v1/providers/{provider_id}"), json)


@app.command("update")
@handle_errors
def update(
    ctx: typer.Context,
    provider_id: Annotated[str, typer.Argument(metavar="ID")],
    type_: TypeOpt = None,
    base_url: BaseUrlOpt = None,
    credential: CredentialOpt = None,
    timeout_s: TimeoutOpt = None,
    header: HeaderOpt = None,
    enabled: EnabledOpt = None,
    json: JsonOpt = False,
) -> None:
    """Change some fields of a provider."""
    data = _fields(type_, base_url, credential, timeout_s, header, enabled)
    if not data:
        raise InvalidRequestError("nothing to update: give at least one option")
    client = connect(ctx)
    _show_one(client.request("PATCH", f"/admin/v1/providers/{provider_id}", data), json)


@app.command("rm")
@handle_errors
def remove(
    ctx: typer.Context,
    provider_id: Annotated[str, typer.Argument(metavar="ID")],
) -> None:
    """Remove a provider (it must have no models)."""
    connect(ctx).request("DELETE", f"/admin/v1/providers/{provider_id}")
    console.print(f"removed provider {provider_id}", markup=False)


@app.command("test")
@handle_errors
def check(
    ctx: typer.Context,
    provider_id: Annotated[str, typer.Argument(metavar="ID")],
    json: JsonOpt = False,
) -> None:
    """Check the provider answers and accepts its credential."""
    result = connect(ctx).post(f"/admin/v1/providers/{provider_id}/test")
    if json:
        print_json(result)
    elif result["ok"]:
        console.print(
            f"{provider_id}: ok, {result['models']} models listed in {result['latency_ms']} ms",
            markup=False,
        )
    else:
        console.print(f"{provider_id}: FAILED: {result['error']}", markup=False)
    if not result["ok"]:
        raise typer.Exit(1)


def _show_one(provider: dict[str, Any], json: bool) -> None:
    if json:
        print_json(provider)
        return
    print_pairs(
        [
            ("id", provider["id"]),
            ("type", provider["type"]),
            ("base url", ", ".join(_urls(provider))),
            ("credential", provider["credential"]),
            ("enabled", _on(provider["enabled"])),
            ("timeout", f"{provider['timeout_s']} s"),
            ("headers", ", ".join(f"{k}: {v}" for k, v in provider["headers"].items()) or "-"),
            ("source", provider["source"]),
        ]
    )


def _urls(provider: dict[str, Any]) -> list[str]:
    return [provider["base_url"]] if provider.get("base_url") else list(provider["base_urls"])


def _on(flag: bool) -> str:
    return "yes" if flag else "no"
