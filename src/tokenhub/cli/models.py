"""``tokenhub models``: add, list, update, remove and discover models."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tokenhub.cli import catalog
from tokenhub.cli.common import (
    Col,
    JsonOpt,
    connect,
    console,
    handle_errors,
    print_json,
    print_table,
)
from tokenhub.errors import InvalidRequestError

app = typer.Typer(name="models", help="Manage models.", no_args_is_help=True)

ModelId = Annotated[str, typer.Argument(metavar="ID", help="Model id.")]


def _opt(name: str, help_text: str) -> Any:
    return typer.Option(name, help=help_text, show_default=False)


ProviderOpt = Annotated[str | None, _opt("--provider", "Provider id serving the model.")]
UpstreamOpt = Annotated[str | None, _opt("--upstream-model", "Name sent to the provider.")]
WeightOpt = Annotated[int | None, _opt("--weight", "Capability weight 1-10.")]
ContextOpt = Annotated[int | None, _opt("--max-context-tokens", "Context window.")]
OutputOpt = Annotated[int | None, _opt("--max-output-tokens", "Longest output.")]
InPriceOpt = Annotated[float | None, _opt("--input-usd-per-mtok", "USD per million input tokens.")]
OutPriceOpt = Annotated[
    float | None, _opt("--output-usd-per-mtok", "USD per million output tokens.")
]
CacheReadOpt = Annotated[
    float | None,
    _opt("--cache-read-usd-per-mtok", "USD per million prompt-cache reads [input price]."),
]
CacheWriteOpt = Annotated[
    float | None,
    _opt("--cache-write-usd-per-mtok", "USD per million prompt-cache writes [input price]."),
]
LatencyOpt = Annotated[float | None, _opt("--expected-latency-ms", "Latency before measured.")]
AliasOpt = Annotated[list[str] | None, _opt("--alias", "Another name; repeatable.")]
CapabilityOpt = Annotated[
    list[str] | None, _opt("--capability", "tools, vision or json; repeatable.")
]
EnabledOpt = Annotated[bool | None, _opt("--enabled/--disabled", "Route to it or not.")]


@app.command("add")
@handle_errors
def add(
    ctx: typer.Context,
    model_id: ModelId,
    provider: ProviderOpt = None,
    upstream_model: UpstreamOpt = None,
    weight: WeightOpt = None,
    max_context_tokens: ContextOpt = None,
    max_output_tokens: OutputOpt = None,
    input_usd_per_mtok: InPriceOpt = None,
    output_usd_per_mtok: OutPriceOpt = None,
    cache_read_usd_per_mtok: CacheReadOpt = None,
    cache_write_usd_per_mtok: CacheWriteOpt = None,
    expected_latency_ms: LatencyOpt = None,
    alias: AliasOpt = None,
    capability: CapabilityOpt = None,
    enabled: EnabledOpt = None,
    json: JsonOpt = False,
) -> None:
    """Register a model served by a provider.

    Prices and context window left out are filled from genai-prices' bundled data when the
    model is known there (OpenAI and Anthropic kinds, and vendors known by base URL).
    """
    data = {
        "id": model_id,
        **_fields(
            provider=provider,
            upstream_model=upstream_model,
            weight=weight,
            max_context_tokens=max_context_tokens,
            max_output_tokens=max_output_tokens,
            input_usd_per_mtok=input_usd_per_mtok,
            output_usd_per_mtok=output_usd_per_mtok,
            cache_read_usd_per_mtok=cache_read_usd_per_mtok,
            cache_write_usd_per_mtok=cache_write_usd_per_mtok,
            expected_latency_ms=expected_latency_ms,
            aliases=alias,
            capabilities=capability,
            enabled=enabled,
        ),
    }
    client = connect(ctx)
    note = _fill_known(client, data)
    _show(client.post("/admin/v1/models", data), json)
    if note and not json:
        console.print(note, markup=False)


@app.command("update")
@handle_errors
def update(
    ctx: typer.Context,
    model_id: ModelId,
    provider: ProviderOpt = None,
    upstream_model: UpstreamOpt = None,
    weight: WeightOpt = None,
    max_context_tokens: ContextOpt = None,
    max_output_tokens: OutputOpt = None,
    input_usd_per_mtok: InPriceOpt = None,
    output_usd_per_mtok: OutPriceOpt = None,
    cache_read_usd_per_mtok: CacheReadOpt = None,
    cache_write_usd_per_mtok: CacheWriteOpt = None,
    expected_latency_ms: LatencyOpt = None,
    alias: AliasOpt = None,
    capability: CapabilityOpt = None,
    enabled: EnabledOpt = None,
    json: JsonOpt = False,
) -> None:
    """Change some fields of a model."""
    data = _fields(
        provider=provider,
        upstream_model=upstream_model,
        weight=weight,
        max_context_tokens=max_context_tokens,
        max_output_tokens=max_output_tokens,
        input_usd_per_mtok=input_usd_per_mtok,
        output_usd_per_mtok=output_usd_per_mtok,
        cache_read_usd_per_mtok=cache_read_usd_per_mtok,
        cache_write_usd_per_mtok=cache_write_usd_per_mtok,
        expected_latency_ms=expected_latency_ms,
        aliases=alias,
        capabilities=capability,
        enabled=enabled,
    )
    if not data:
        raise InvalidRequestError("nothing to update: give at least one option")
    client = connect(ctx)
    _show(client.request("PATCH", f"/admin/v1/models/{model_id}", data), json)


def _fields(
    *,
    provider: str | None,
    upstream_model: str | None,
    weight: int | None,
    max_context_tokens: int | None,
    max_output_tokens: int | None,
    input_usd_per_mtok: float | None,
    output_usd_per_mtok: float | None,
    cache_read_usd_per_mtok: float | None,
    cache_write_usd_per_mtok: float | None,
    expected_latency_ms: float | None,
    aliases: list[str] | None,
    capabilities: list[str] | None,
    enabled: bool | None,
) -> dict[str, Any]:
    """The model fields given on the command line, named as the admin API names them."""
    fields: dict[str, Any] = {
        "provider": provider,
        "upstream_model": upstream_model,
        "weight": weight,
        "max_context_tokens": max_context_tokens,
        "max_output_tokens": max_output_tokens,
        "input_usd_per_mtok": input_usd_per_mtok,
        "output_usd_per_mtok": output_usd_per_mtok,
        "cache_read_usd_per_mtok": cache_read_usd_per_mtok,
        "cache_write_usd_per_mtok": cache_write_usd_per_mtok,
        "expected_latency_ms": expected_latency_ms,
        "aliases": aliases,
        "capabilities": capabilities,
        "enabled": enabled,
    }
    return {name: value for name, value in fields.items() if value is not None}


@app.command("list")
@handle_errors
def list_(
    ctx: typer.Context,
    json: JsonOpt = False,
) -> None:
    """List models."""
    result = connect(ctx).get("/admin/v1/models")
    if json:
        print_json(result["data"])
        return
    columns = [
        Col("id", key=True),
        Col("provider", key=True),
        Col("weight", justify="right"),
        Col("context", justify="right", drop=3),
        Col("$/Mtok in", justify="right"),
        Col("$/Mtok out", justify="right"),
        Col("enabled", drop=1),
        Col("aliases", drop=2),
    ]
    rows = [
        [
            m["id"],
            m["provider"],
            m["weight"],
            m["max_context_tokens"],
            m["input_usd_per_mtok"],
            m["output_usd_per_mtok"],
            "yes" if m["enabled"] else "no",
            ", ".join(m["aliases"]),
        ]
        for m in result["data"]
    ]
    print_table(None, columns, rows)


@app.command("rm")
@handle_errors
def remove(
    ctx: typer.Context,
    model_id: ModelId,
) -> None:
    """Remove a model."""
    connect(ctx).request("DELETE", f"/admin/v1/models/{model_id}")
    console.print(f"removed model {model_id}", markup=False)


@app.command("discover")
@handle_errors
def discover(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(metavar="PROVIDER", help="Provider id.")],
    add: Annotated[bool, typer.Option("--add", help="Register every unregistered model.")] = False,
    json: JsonOpt = False,
) -> None:
    """List the models the provider's /v1/models offers; --add registers the new ones."""
    client = connect(ctx)
    found = client.get(f"/admin/v1/providers/{provider}/discover")["data"]
    added = []
    if add:
        for item in found:
            if item["registered_as"] is None:
                model = {"id": item["upstream_model"], "provider": provider}
                _fill_known(client, model)
                client.post("/admin/v1/models", model)
                item["registered_as"] = model["id"]
                added.append(model["id"])
    if json:
        print_json({"data": found, "added": added})
        return
    rows = [[i["upstream_model"], i["registered_as"] or "-"] for i in found]
    columns = [Col("upstream model", key=True), Col("registered as", key=True)]
    print_table(f"models offered by {provider}", columns, rows)
    if add:
        console.print(f"added {len(added)} model(s)", markup=False)


def _fill_known(client: Any, model: dict[str, Any]) -> str | None:
    """Fill missing prices and context from the catalogue; None when nothing was filled."""
    if model.get("provider") is None or all(model.get(f) is not None for f in catalog.FIELDS):
        return None
    provider = client.get(f"/admin/v1/providers/{model['provider']}")
    return catalog.fill(model, provider)


def _show(model: dict[str, Any], json: bool) -> None:
    if json:
        print_json(model)
        return
    console.print(
        f"{model['id']} on {model['provider']}: weight {model['weight']}, "
        f"context {model['max_context_tokens']}, "
        f"${model['input_usd_per_mtok']}/${model['output_usd_per_mtok']} per Mtok",
        markup=False,
    )
