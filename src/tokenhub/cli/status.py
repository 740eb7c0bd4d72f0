"""``tokenhub status``: what the running daemon reports about itself."""

from __future__ import annotations

import typer

from tokenhub.cli.common import (
    JsonOpt,
    connect,
    handle_errors,
    print_json,
    print_pairs,
)


@handle_errors
def status(
    ctx: typer.Context,
    json: JsonOpt = False,
) -> None:
    """Show version, uptime, listeners, database, migration revision and vault state."""
    report = connect(ctx).get("/admin/v1/status")
    if json:
        print_json(report)
        return
    migration = report["migration"]
    current = migration["current"] or "none"
    state = (
        "current" if migration["current"] == migration["head"] else f"head is {migration['head']}"
    )
    print_pairs(
        [
            ("version", report["version"]),
            ("pid", report["pid"]),
            ("uptime", f"{report['uptime_s']:.0f}s"),
            ("listeners", ", ".join(report["listeners"])),
            ("database", report["database"]),
            ("migration", f"{current} ({state})"),
            ("vault", report["vault"]),
            ("mode", "demo (simulated providers)" if report["demo"] else "normal"),
        ]
    )
