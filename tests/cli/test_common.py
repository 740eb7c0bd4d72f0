"""Tables that fit the terminal: ids whole at 80 and 120 columns, lesser columns give way."""

from __future__ import annotations

import io
import json
import os
import urllib.request
from pathlib import Path

import pytest
from rich.console import Console

from tokenhub.cli import common
from tokenhub.cli.common import Col, fitting, print_table
from tokenhub.testing import run_cli, start_daemon

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE_ENV = "UPDATE_SNAPSHOTS"
WIDTHS = (80, 120)
DEMO_MODELS = {
    "sim-claude-haiku",
    "sim-claude-sonnet",
    "sim-gpt-4o",
    "sim-gpt-4o-mini",
    "sim-llama-8b",
}


def cli(width: int, *args: str) -> str:
    """Run the CLI against the daemon on the default socket in a ``width``-column terminal."""
    done = run_cli(*args, env={**os.environ, "COLUMNS": str(width)})
    assert done.returncode == 0, done.stderr
    return done.stdout


def matches_snapshot(name: str, text: str) -> None:
    """``text`` equals the checked-in snapshot (rewritten when UPDATE_SNAPSHOTS=1)."""
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get(UPDATE_ENV) == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from {path}"


def fits(text: str, width: int) -> None:
    """Every line fits ``width`` columns and nothing was cut with an ellipsis."""
    assert "…" not in text
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert too_wide == []


def test_fitting_keeps_every_column_when_there_is_room():
    """A wide terminal shows every column."""
    cols = [Col("id", key=True), Col("note", drop=1), Col("size", drop=2)]
    assert fitting(cols, [["model-a", "a note", "12"]], 80) == [0, 1, 2]


def test_fitting_drops_the_highest_drop_rank_first_and_never_a_key():
    """Too narrow: columns leave by drop rank, highest first; key and drop-0 columns stay."""
    cols = [Col("identifier", key=True), Col("a", drop=1), Col("b", drop=2), Col("c")]
    rows = [["x" * 30, "aaaa", "bbbb", "cccc"]]
    # Needs: 33 + 7 + 7 + 7 + 1 = 55 for all; 48 without "b"; 41 without "a" as well.
    assert fitting(cols, rows, 55) == [0, 1, 2, 3]
    assert fitting(cols, rows, 50) == [0, 1, 3]
    assert fitting(cols, rows, 45) == [0, 3]
    assert fitting(cols, rows, 10) == [0, 3]


def test_a_folding_column_needs_only_its_longest_word():
    """Non-key columns wrap at spaces, so only their longest word must fit."""
    cols = [Col("id", key=True), Col("last error", drop=1)]
    rows = [["m", "upstream said no " * 5]]
    assert fitting(cols, rows, 5 + 13 + 1) == [0, 1]


def test_a_terminal_too_narrow_for_the_ids_folds_them_whole(monkeypatch):
    """Even in 30 columns a 60-character id is printed whole, folded over lines."""
    out = io.StringIO()
    monkeypatch.setattr(common, "console", Console(file=out, width=30, soft_wrap=True))
    model = "an-extremely-long-model-identifier-" + "x" * 25
    print_table(None, [Col("id", key=True), Col("provider", key=True)], [[model, "p1"]])
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 30
    cells = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert "".join(cells) == model


@pytest.mark.parametrize("width", WIDTHS)
def test_demo_tables_keep_ids_whole(tokenhub_home, width):
    """At 80 and 120 columns the demo's tables keep every id whole and fit the width."""
    with start_daemon("--demo") as daemon:
        models = cli(width, "models", "list")
        matches_snapshot(f"models_list_{width}", models)
        matches_snapshot(f"health_{width}", cli(width, "health"))
        for model in ("sim-claude-sonnet", "sim-gpt-4o-mini", "sim-llama-8b"):
            body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
            request = urllib.request.Request(
                f"{daemon.url}/v1/chat/completions",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            urllib.request.urlopen(request, timeout=10).read()
        outputs = {
            "health": cli(width, "health"),
            "logs": cli(width, "logs", "requests"),
            "providers": cli(width, "providers", "list"),
            "route": cli(width, "route", "test", "hello"),
        }
    for text in outputs.values():
        fits(text, width)
    for name in ("health", "route"):
        assert all(f" {m} " in outputs[name] for m in DEMO_MODELS), name
    for model, provider in (
        ("sim-claude-sonnet", "sim-anthropic"),
        ("sim-gpt-4o-mini", "sim-openai"),
        ("sim-llama-8b", "sim-vllm"),
    ):
        assert f" {model} " in outputs["logs"]
        assert f" {provider} " in outputs["logs"]
    assert all(f" {p} " in outputs["providers"] for p in ("sim-openai", "sim-vllm"))
