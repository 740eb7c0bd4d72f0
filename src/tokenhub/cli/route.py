"""``tokenhub route test``: explain how a prompt would be routed."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from tokenhub.cli.common import (
    JsonOpt,
    connect,
    console,
    handle_errors,
    print_json,
)

app = typer.Typer(name="route", help="Explain routing decisions.", no_args_is_help=True)


@app.command("test")
@handle_errors
def check(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The prompt to route.")],
    model: Annotated[str, typer.Option(help="Model, alias or routing target.")] = "auto",
    mode: Annotated[str | None, typer.Option(help="Routing mode.", show_default=False)] = None,
    min_weight: Annotated[int | None, typer.Option(show_default=False)] = None,
    max_budget_usd: Annotated[float | None, typer.Option(show_default=False)] = None,
    max_latency_ms: Annotated[float | None, typer.Option(show_default=False)] = None,
    send: Annotated[bool, typer.Option("--send", help="Also send it to the chosen model.")] = False,
    json: JsonOpt = False,
) -> None:
    """Show every model as eligible (with score components) or rejected (with reasons).

    No provider is called unless --send is given.
    """
    hints = {
        "mode": mode,
        "min_weight": min_weight,
        "max_budget_usd": max_budget_usd,
        "max_latency_ms": max_latency_ms,
    }
    body: dict[str, Any] = {"prompt": prompt, "model": model, "send": send}
    body.update({key: value for key, value in hints.items() if value is not None})
    report = connect(ctx).post("/admin/v1/route/test", body)
    if json:
        print_json(report)
        return
    render(report)


def render(report: dict[str, Any]) -> None:
    """Print the eligible models with their score parts, the rejected ones with reasons."""
    table = Table(
        title=f"mode {report['mode']}: ~{report['input_tokens']} input + "
        f"{report['output_tokens']} output tokens",
        header_style="bold",
    )
    table.add_column("eligible model", no_wrap=True)
    for column in ("score", "weight", "cost", "latency", "failure", "est. $"):
        table.add_column(column, justify="right", no_wrap=True)
    for c in report["candidates"]:
        parts = c["components"]
        table.add_row(
            c["model"],
            f"{c['score']:.3f}",
            *(f"{parts[k]:+.3f}" for k in ("weight", "cost", "latency", "failure")),
            f"{c['est_cost_usd']:.5f}",
        )
    console.print(table)
    for r in report["rejected"]:
        console.print(f"  rejected {r['model']}: {'; '.join(r['reasons'])}", markup=False)
    chosen = report["chosen"]
    console.print(
        f"choice: {chosen}" if chosen else "choice: none (no eligible model)", markup=False
    )
    sent = report.get("sent")
    if sent:
        text = sent["response"]["message"]["content"]
        console.print(
            f"sent to {sent['model']} via {sent['provider']} "
            f"({len(sent['attempts'])} attempt(s), ${sent['cost_usd']:.6f}): {text}",
            markup=False,
        )
