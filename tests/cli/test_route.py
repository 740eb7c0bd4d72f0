"""`tokenhub route test`: eligible models by score, the choice marked and explained."""

from __future__ import annotations

import os

from tokenhub.client import DaemonClient
from tokenhub.testing import run_cli, start_daemon


def route_test(*args: str) -> list[str]:
    """The lines `route test` prints in an 80-column terminal."""
    done = run_cli("route", "test", *args, env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def row_of(lines: list[str], model: str) -> tuple[int, str]:
    """The index of ``model``'s table row, and its mark (``*``, ``~`` or empty)."""
    for index, line in enumerate(lines):
        cells = [c.strip() for c in line.split("│")]
        if len(cells) > 2 and cells[2] == model:
            return index, cells[1]
    raise AssertionError(f"no row for {model}")


def test_a_drawn_choice_below_the_top_score_is_marked_and_explained(tokenhub_home):
    """The rows stay in score order; the choice is marked and said to be drawn in the margin."""
    with start_daemon("--demo") as daemon:
        admin = DaemonClient(socket_path=daemon.socket_path)
        # In high_confidence sim-claude-sonnet scores best, sim-gpt-4o within 0.05 of it;
        # a traffic weight of 0 keeps sonnet out of the first slot, so the draw takes gpt-4o.
        admin.request("PATCH", "/admin/v1/routing", {"traffic_weights": {"sim-claude-sonnet": 0}})
        drawn = route_test("hello", "--mode", "high_confidence")
        admin.request("PATCH", "/admin/v1/routing", {"selection_margin": 0})
        top = route_test("hello", "--mode", "high_confidence")
    sonnet, gpt = row_of(drawn, "sim-claude-sonnet"), row_of(drawn, "sim-gpt-4o")
    assert sonnet[0] < gpt[0]
    assert (sonnet[1], gpt[1]) == ("~", "*")
    assert "choice (*): sim-gpt-4o, not the top score (sim-claude-sonnet scored higher)" in drawn
    assert "  drawn among the 2 candidates (*, ~) within selection_margin 0.05 of the top" in drawn
    assert (row_of(top, "sim-claude-sonnet")[1], row_of(top, "sim-gpt-4o")[1]) == ("*", "")
    assert top[-1] == "choice (*): sim-claude-sonnet, the top score"
