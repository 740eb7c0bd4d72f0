"""``tokenhub route test``: explain how a prompt would be routed."""

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
    print_table,
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
    """List the eligible models by score (with its components), marking the choice.

    Rejected models follow with their reasons; a choice that is not the top score is
    explained (drawn among the candidates within selection_margin of it).

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


SCORE_PARTS = ("weight", "cost", "latency", "failure")
COLUMNS = [
    Col(""),
    Col("eligible model", key=True),
    Col("score", justify="right"),
    *(Col(part, justify="right") for part in SCORE_PARTS),
    Col("est. $", justify="right", drop=1),
]


def render(report: dict[str, Any]) -> None:
    """Print the eligible models by score, marking the choice, then the rejected ones."""
    selection = report["selection"]
    pool = selection["pool"] if selection["drawn"] else []
    rows = [
        [
            _mark(c["model"], report["chosen"], pool),
            c["model"],
            f"{c['score']:.3f}",
            *(f"{c['components'][k]:+.3f}" for k in SCORE_PARTS),
            f"{c['est_cost_usd']:.5f}",
        ]
        for c in report["candidates"]
    ]
    title = (
        f"mode {report['mode']}: ~{report['input_tokens']} input + "
        f"{report['output_tokens']} output tokens"
    )
    print_table(title, COLUMNS, rows)
    for r in report["rejected"]:
        console.print(f"  rejected {r['model']}: {'; '.join(r['reasons'])}", markup=False)
    console.print(choice_line(report), markup=False)
    sent = report.get("sent")
    if sent:
        text = sent["response"]["message"]["content"]
        console.print(
            f"sent to {sent['model']} via {sent['provider']} "
            f"({len(sent['attempts'])} attempt(s), ${sent['cost_usd']:.6f}): {text}",
            markup=False,
        )


def _mark(model: str, chosen: str | None, pool: list[str]) -> str:
    if model == chosen:
        return "*"
    return "~" if model in pool else ""


def choice_line(report: dict[str, Any]) -> str:
    """The choice, and whether it is the top score or was drawn among the near-best."""
    chosen = report["chosen"]
    if chosen is None:
        return "choice: none (no eligible model)"
    top = report["top"]
    line = f"choice (*): {chosen}, " + (
        "the top score" if chosen == top else f"not the top score ({top} scored higher)"
    )
    selection = report["selection"]
    if selection["drawn"]:
        line += (
            f"\n  drawn among the {len(selection['pool'])} candidates (*, ~) within"
            f" selection_margin {selection['selection_margin']} of the top"
        )
    return line
