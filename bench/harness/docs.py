"""Copying the latest results into docs/PERFORMANCE.md and the README (``--update-docs``).

Each file holds a block between ``<!-- bench:latest:start -->`` and
``<!-- bench:latest:end -->``; only that block is replaced.
"""

from __future__ import annotations

from pathlib import Path

from harness.render import _f, _signed, checks_table, machine_line, render

START, END = "<!-- bench:latest:start -->", "<!-- bench:latest:end -->"
README_SCENARIOS = ("chat-c1", "chat-c8", "stream-c8", "ttft-c1")


def replace_block(text: str, block: str) -> str:
    """``text`` with the marked block replaced by ``block``; ValueError without markers."""
    head, sep, rest = text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"no {START} ... {END} block")
    return f"{head}{START}\n{block.strip()}\n{END}{tail}"


def readme_block(result: dict) -> str:
    """The short table for the README: main scenarios, req/s, latency added, CPU."""
    meta = result["meta"]
    lines = [
        (
            f"Measured {meta['started']} on {machine_line(meta)}, with `{meta['command']}` "
            f"({meta['mode']} mode; server pinned to its own core):"
        ),
        "",
        "| scenario | target | req/s | p50 ms | +p50 vs direct ms | server CPU ms/req |",
        "|---|---|--:|--:|--:|--:|",
    ]
    lines += [
        f"| {r['scenario']} | {r['target']} | {_f(r['rps'], '.0f')} | {_f(r['p50_ms'])} "
        f"| {_signed(r['added_p50_ms'])} | {_f(r['cpu_ms_per_req'], '.3f')} |"
        for r in result["summary"]
        if r["scenario"] in README_SCENARIOS
    ]
    return "\n".join([*lines, "", checks_table(result)])


def update(result: dict, root: Path) -> list[Path]:
    """Rewrite the marked blocks of docs/PERFORMANCE.md and README.md; return those changed."""
    changed = []
    for path, block in (
        (root / "docs" / "PERFORMANCE.md", render(result)),
        (root / "README.md", readme_block(result)),
    ):
        text = path.read_text(encoding="utf-8")
        new = replace_block(text, block)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
