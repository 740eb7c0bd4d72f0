"""Draw bench/results/latest.png from a results JSON (matplotlib, bench-only venv).

    bench/.venv-tools/bin/python bench/chart.py bench/results/latest.json out.png

matplotlib lives in bench/.venv-tools (scripts/install-bench-deps.sh), not in the
project's dependencies: only the benchmark draws charts. This file imports nothing from
tokenhub or the harness, so it runs in that venv alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

ORDER = ("direct", "lean", "tokenhub", "litellm")
COLOURS = {"direct": "#9e9e9e", "lean": "#4c72b0", "tokenhub": "#dd8452", "litellm": "#55a868"}
PANELS = (
    ("rps", "requests/s (median, bars: min-max; log scale)", True),
    ("cpu_ms_per_req", "server CPU ms per request", False),
    ("p50_ms", "p50 latency, ms", True),
)


def _bars(ax, rows: list[dict], scenarios: list[str], key: str, log_scale: bool) -> None:
    targets = [t for t in ORDER if any(r["target"] == t for r in rows)]
    width = 0.8 / max(1, len(targets))
    for i, target in enumerate(targets):
        xs, ys, lo, hi = [], [], [], []
        for j, scenario in enumerate(scenarios):
            row = next(
                (r for r in rows if r["scenario"] == scenario and r["target"] == target), None
            )
            if row is None or row.get(key) is None:
                continue
            xs.append(j + i * width - 0.4 + width / 2)
            ys.append(row[key])
            spread = key == "rps"
            lo.append(row[key] - row["rps_min"] if spread else 0)
            hi.append(row["rps_max"] - row[key] if spread else 0)
        ax.bar(xs, ys, width, label=target, color=COLOURS.get(target), yerr=[lo, hi])
    ax.set_xticks(range(len(scenarios)), scenarios, fontsize=8)
    if log_scale:
        ax.set_yscale("log")


def draw(result: dict, out: Path) -> None:
    rows = result["summary"]
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    fig, axes = plt.subplots(len(PANELS), 1, figsize=(10, 9), constrained_layout=True)
    for ax, (key, title, log_scale) in zip(axes, PANELS, strict=True):
        _bars(ax, rows, scenarios, key, log_scale)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(ncols=4, fontsize=8)
    meta = result["meta"]
    fig.suptitle(
        f"tokenhub gateway benchmark — {meta['mode']} mode, {meta['started']}\n"
        f"{meta['machine']['cpu']}, {meta['machine']['cores']} cores",
        fontsize=10,
    )
    fig.savefig(out, dpi=100)


def main() -> None:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    draw(json.loads(source.read_text()), out)


if __name__ == "__main__":
    main()
