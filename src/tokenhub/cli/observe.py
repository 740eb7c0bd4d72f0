"""``tokenhub events``, ``tokenhub health`` and ``tokenhub logs``: what the daemon is doing."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
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
from tokenhub.cli.rows import show_rows

logs_app = typer.Typer(name="logs", help="Logs kept by the daemon.", no_args_is_help=True)
FOLLOW_POLL_S = 1.0


@handle_errors
def events(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing (default).")] = True,
    count: Annotated[
        int | None, typer.Option(help="Stop after this many events.", show_default=False)
    ] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="Only events of this type.", show_default=False)
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Print live events: routing decisions, failovers, health changes, admin actions."""
    del follow  # the stream is live by nature; the flag exists for symmetry with logs
    seen = 0
    name = ""
    try:
        for line in connect(ctx).stream_lines("/admin/v1/events"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif (
                line.startswith("data: ")
                and name not in ("hello", "")
                and (type_ is None or name == type_)
            ):
                _print_event(orjson.loads(line[len("data: ") :]), json=json)
                seen += 1
                if count is not None and seen >= count:
                    return
    except KeyboardInterrupt:
        return


def _print_event(event: dict[str, Any], *, json: bool) -> None:
    if json:
        print_json(event)
        return
    when = time.strftime("%H:%M:%S", time.localtime(event.pop("ts")))
    event.pop("seq", None)
    kind = event.pop("type")
    fields = " ".join(f"{k}={v}" for k, v in event.items() if v is not None)
    console.print(f"{when} {kind:<20} {fields}", markup=False)


@handle_errors
def health(
    ctx: typer.Context,
    json: JsonOpt = False,
) -> None:
    """Every provider and model: state, error rate, latency, cooldown left, last error."""
    report = connect(ctx).get("/admin/v1/health")
    if json:
        print_json(report)
        return
    columns = [
        Col("id", key=True),
        Col("state", key=True),
        Col("error rate", justify="right", drop=1),
        Col("latency ms", justify="right", drop=2),
        Col("cooldown s", justify="right"),
        Col("last error"),
    ]
    for title, key in (("providers", "providers"), ("models", "models")):
        rows = [
            [
                r["id"],
                r["state"],
                f"{r['error_rate']:.1%}",
                r["latency_ms"] if r["latency_ms"] is not None else "-",
                r["cooldown_left_s"] or "-",
                r["last_error"] or "-",
            ]
            for r in report[key]
        ]
        print_table(title, columns, rows)


@logs_app.command("requests")
@handle_errors
def requests(
    ctx: typer.Context,
    model: Annotated[str | None, typer.Option(show_default=False)] = None,
    provider: Annotated[str | None, typer.Option(show_default=False)] = None,
    status: Annotated[
        str | None, typer.Option(help="ok, error or client_closed.", show_default=False)
    ] = None,
    key: Annotated[str | None, typer.Option(help="API key name.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new rows.")] = False,
    json: JsonOpt = False,
) -> None:
    """Recent requests: model, provider, attempts, tokens, cost, latency, status."""
    filters = {"model": model, "provider": provider, "status": status, "key": key}
    show_rows(
        connect(ctx),
        "/admin/v1/requests",
        {k: v for k, v in filters.items() if v is not None},
        limit=limit,
        follow=follow,
        json=json,
        columns=REQUEST_COLUMNS,
        cells=_request_cells,
    )


REQUEST_COLUMNS = [
    Col("when", key=True),
    Col("endpoint", drop=5),
    Col("model", key=True),
    Col("provider", key=True),
    Col("tries", justify="right", drop=4),
    Col("tokens", justify="right", drop=3),
    Col("$", justify="right", drop=1),
    Col("ms", justify="right", drop=2),
    Col("status", key=True),
]


def _request_cells(row: dict[str, Any]) -> list[Any]:
    return [
        time.strftime("%H:%M:%S", time.localtime(row["ts"])),
        row["endpoint"].removeprefix("/v1/"),
        row["model"] or "-",
        row["provider"] or "-",
        len(row["attempts"]),
        f"{row['input_tokens']}+{row['output_tokens']}",
        f"{row['cost_usd']:.6f}",
        f"{row['latency_ms']:.0f}",
        row["status"] if row["error_type"] is None else row["error_type"],
    ]
