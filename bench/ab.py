"""A/B: tokenhub at another commit against the working tree, alternately, on one upstream.

    .venv/bin/python bench/ab.py --base 6683a71 [--seconds 8] [--rounds 2] [--stream]
    .venv/bin/python bench/ab.py --base 6683a71 --startup 6

The base commit's ``src/`` is exported with ``git archive`` and loaded through
``PYTHONPATH``; both variants run with the working tree's harness and benchmark config,
pinned as ``make bench`` pins them, next to the lean floor and the direct upstream. Each
round loads every target in turn at c=1 and c=8 and reads the server's CPU from ``/proc``.
The figures printed are per run, so their spread shows how noisy the machine is.

``--startup N`` instead starts each variant N times, alternately, on a fresh home (an empty
database, as ``make bench`` starts it): start-up to the first answered request, as the
harness measures it, and resident memory after 300 more answered requests.
"""

from __future__ import annotations

import argparse
import compileall
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from harness import procs, targets, wrk  # noqa: E402 - after the path is set
from harness.plan import Cpus  # noqa: E402 - after the path is set

ROOT = BENCH.parent


def export_src(commit: str, into: Path) -> Path:
    """The ``src/`` folder of ``commit``, unpacked under ``into``."""
    archive = into / "base.tar"
    subprocess.run(
        ["git", "archive", "--format=tar", "-o", str(archive), commit, "src"],
        cwd=ROOT,
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(into / "base", filter="data")
    return into / "base" / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stream", action="store_true", help="streaming requests")
    parser.add_argument("--startup", type=int, default=0, metavar="N", help="N start-ups each")
    args = parser.parse_args()
    cpus = Cpus.detect()
    work = Path(tempfile.mkdtemp(prefix="tokenhub-ab-"))
    scenario = BENCH / "scenarios" / "zero.yaml"
    upstream = targets.start(targets.upstream_spec("upstream", scenario, cpus.load), work)
    if args.startup:
        try:
            startups(args.base, args.startup, upstream, work, cpus)
        finally:
            upstream.stop()
        return
    specs = [targets.lean_spec(upstream.spec, cpus.server)]
    for name, src in (("base", export_src(args.base, work)), ("tree", ROOT / "src")):
        home, folder = work / f"{name}-home", work / name
        home.mkdir()
        folder.mkdir(exist_ok=True)
        spec = targets.tokenhub_spec(upstream.spec, folder, home, cpus.server)
        spec.name = name
        spec.env["PYTHONPATH"] = str(src)
        specs.append(spec)
    running = [targets.start(spec, work) for spec in specs]
    script = "stream.lua" if args.stream else "chat.lua"
    results: dict[tuple[int, str], list[str]] = {}
    try:
        for _ in range(args.rounds):
            for connections in (1, 8):
                for target in [upstream, *running]:
                    spec = target.spec
                    run = spec.wrk_run(script, connections, args.seconds)
                    measured = wrk.measured(run, target.pid, cpus.load)
                    out = measured.result
                    cell = f"{out.rps:6.0f} req/s p50 {out.latency_us['p50'] / 1000:.3f} ms"
                    if target is not upstream:
                        cell += f" cpu {measured.cpu_ms_per_request or 0.0:.3f} ms/req"
                    if out.error_count:
                        cell += f" errors {out.error_count}"
                    results.setdefault((connections, spec.name), []).append(cell)
    finally:
        for target in [*running, upstream]:
            target.stop()
    print(f"A/B {args.base} (base) vs working tree (tree), {script}, {args.seconds:g} s runs")
    for (connections, name), cells in sorted(results.items()):
        print(f"c={connections} {name:8} " + " | ".join(cells))


def startups(base: str, times: int, upstream: targets.Running, work: Path, cpus: Cpus) -> None:
    """Start base and tree alternately ``times`` times each; print start-up and RSS."""
    sources = {"base": export_src(base, work), "tree": ROOT / "src"}
    for src in sources.values():  # as an installed wheel ships them (see bench/run.py)
        compileall.compile_dir(src, quiet=1)
    seconds: dict[str, list[float]] = {name: [] for name in sources}
    rss: dict[str, list[float]] = {name: [] for name in sources}
    for i in range(times):
        for name, src in sources.items():
            folder = work / f"{name}-{i}"
            folder.mkdir()
            spec = targets.tokenhub_spec(upstream.spec, folder, folder, cpus.server)
            spec.env["PYTHONPATH"] = str(src)
            running = targets.start(spec, work)
            try:
                seconds[name].append(running.startup_s)
                for _ in range(300):
                    targets.answers(spec)
                rss[name].append(procs.snapshot(running.pid).rss_mib)
            finally:
                running.stop()
    print(f"A/B {base} (base) vs working tree (tree): {times} start-ups each, fresh home")
    for name in sources:
        s, r = sorted(seconds[name]), sorted(rss[name])
        print(
            f"{name:5} start-up median {statistics.median(s):.2f} s (min {s[0]:.2f}, max "
            f"{s[-1]:.2f}); RSS after 300 answers median {statistics.median(r):.1f} MiB"
        )


if __name__ == "__main__":
    main()
