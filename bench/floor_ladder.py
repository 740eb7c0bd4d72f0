"""The floor ladder: what each layer of a Python gateway adds to one request at c=1.

    .venv/bin/python bench/floor_ladder.py [--rounds 3] [--seconds 6] [--connections 1]

Runs, interleaved and pinned as ``make bench`` pins them, the upstream simulator called
directly and four servers in front of it, from the least a Python proxy can do to
tokenhub:

| rung | server | upstream client |
|---|---|---|
| bare-raw | asyncio protocols (bench/bare_proxy.py) | asyncio protocol |
| bare-aiohttp | aiohttp's web server | asyncio protocol |
| lean | aiohttp's web server (bench/lean_proxy.py) | aiohttp's ClientSession |
| tokenhub | aiohttp's web server, every production feature | tokenhub's HTTP/1.1 client |

and prints, per rung, the p50 latency added over the direct upstream and the server's CPU
per request, each as the median and range over the rounds. docs/PERFORMANCE.md quotes it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from harness import targets, wrk  # noqa: E402 - after the path is set
from harness.plan import Cpus  # noqa: E402 - imported after sys.path gains bench/, so the script runs from anywhere


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f} to {max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()
    cpus = Cpus.detect()
    work = Path(tempfile.mkdtemp(prefix="tokenhub-ladder-"))
    scenario = BENCH / "scenarios" / "zero.yaml"
    upstream = targets.start(targets.upstream_spec("direct", scenario, cpus.load), work)
    home = work / "home"
    home.mkdir()
    specs = [
        targets.bare_spec(upstream.spec, "raw", cpus.server),
        targets.bare_spec(upstream.spec, "aiohttp", cpus.server),
        targets.lean_spec(upstream.spec, cpus.server),
        targets.tokenhub_spec(upstream.spec, work, home, cpus.server),
    ]
    running = [targets.start(spec, work) for spec in specs]
    p50_ms: dict[str, list[float]] = {}
    cpu_ms: dict[str, list[float]] = {}
    try:
        for _ in range(args.rounds):
            direct = 0.0
            for target in [upstream, *running]:
                spec = target.spec
                run = spec.wrk_run("chat.lua", args.connections, args.seconds)
                out = wrk.measured(run, target.pid, cpus.load)
                if out.result.error_count:
                    raise SystemExit(f"{spec.name}: {out.result.error_count} errors")
                p50 = out.result.latency_us["p50"] / 1000
                if target is upstream:
                    direct = p50
                    continue
                p50_ms.setdefault(spec.name, []).append(p50 - direct)
                cpu_ms.setdefault(spec.name, []).append(out.cpu_ms_per_request or 0.0)
    finally:
        for target in [*running, upstream]:
            target.stop()
    print(
        f"Floor ladder, chat.lua, c={args.connections}, {args.rounds} rounds of "
        f"{args.seconds:g} s, server on core {cpus.server}, wrk and upstream on core {cpus.load}"
    )
    print()
    print("| rung | added p50 ms, median (range) | server CPU ms/request, median (range) |")
    print("|---|--:|--:|")
    for name, added in p50_ms.items():
        print(f"| {name} | {_spread(added)} | {_spread(cpu_ms[name])} |")


if __name__ == "__main__":
    main()
