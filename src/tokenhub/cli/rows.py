"""Printing id-ordered log rows (audit, requests), once or following new ones."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from tokenhub.cli.common import Col, console, print_json, print_table
from tokenhub.client import DaemonClient

FOLLOW_POLL_S = 1.0
Row = dict[str, Any]


def show_rows(
    client: DaemonClient,
    path: str,
    query: dict[str, Any],
    *,
    limit: int,
    follow: bool,
    json: bool,
    columns: Sequence[Col],
    cells: Callable[[Row], list[Any]],
) -> None:
    """Print the newest ``limit`` rows oldest first; with ``follow``, poll for newer ones."""
    rows = client.get(f"{path}?{urlencode({**query, 'limit': limit})}")["data"]
    rows.reverse()
    _print(rows, json=json, columns=columns, cells=cells, table=True)
    if not follow:
        return
    last = max((r["id"] for r in rows), default=0)
    try:
        while True:
            time.sleep(FOLLOW_POLL_S)
            new = client.get(f"{path}?{urlencode({**query, 'after': last, 'limit': 1000})}")["data"]
            if new:
                last = new[-1]["id"]
                _print(new, json=json, columns=columns, cells=cells, table=False)
    except KeyboardInterrupt:
        return


def _print(
    rows: list[Row],
    *,
    json: bool,
    columns: Sequence[Col],
    cells: Callable[[Row], list[Any]],
    table: bool,
) -> None:
    if json:
        for row in rows:
            print_json(row)
    elif table:
        print_table(None, columns, [cells(r) for r in rows])
    else:
        for row in rows:
            console.print("  ".join(str(c) for c in cells(row)), markup=False)
