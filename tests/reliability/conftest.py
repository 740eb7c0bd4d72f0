"""The reliability suite's table: each scenario records its target and measured figures.

Short, seeded runs are part of ``make test``; ``make test-extended`` runs the full durations
(marker ``extended``), prints the table and writes it to ``bench/results/reliability-latest.md``
for docs/RELIABILITY.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parents[2] / "bench" / "results" / "reliability-latest.md"
ROWS = pytest.StashKey[list["Row"]]()


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    scenario: str
    size: str
    target: str
    measured: str
    passed: bool


Record = Callable[[str, str, str, bool], None]


@pytest.fixture
def table(request: pytest.FixtureRequest) -> Record:
    """Record ``(scenario, target, measured, passed)`` for the printed and written table."""
    rows = request.config.stash.setdefault(ROWS, [])
    callspec = getattr(request.node, "callspec", None)
    size = callspec.id if callspec is not None else "-"

    def record(scenario: str, target: str, measured: str, passed: bool) -> None:
        rows.append(Row(scenario, size, target, measured, passed))

    return record


def render(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| scenario | run | target | measured | holds |",
        "|---|---|---|---|---|",
        *(
            f"| {r.scenario} | {r.size} | {r.target} | {r.measured} | "
            f"{'yes' if r.passed else '**no**'} |"
            for r in rows
        ),
    ]
    return "\n".join(lines) + "\n"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print the table; after a run with full-length scenarios, write it for the docs."""
    rows = config.stash.get(ROWS, [])
    if not rows:
        return
    text = render(rows)
    terminalreporter.write_sep("=", "reliability (docs/RELIABILITY.md)")
    terminalreporter.write(text)
    if any(r.size == "full" for r in rows):
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(f"# Reliability suite, {stamp}\n\n{text}", encoding="utf-8")
        terminalreporter.write_line(f"written to {REPORT}")
