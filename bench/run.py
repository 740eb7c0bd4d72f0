"""Gateway benchmark: tokenhub against the upstream directly, a lean floor and LiteLLM.

    python bench/run.py [--quick] [--peers] [--soak SECONDS] [--report RESULTS.json]

``make bench`` and ``make bench-peers`` run this; bench/README.md explains every number.
Results go to bench/results/<timestamp>-<mode>.{json,md} and bench/results/latest.*.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import docs, facts, targets
from harness.phase import run_phase
from harness.plan import Cpus, Plan
from harness.render import render
from harness.report import checks, summarize
from harness.soak import run_soak

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
TOOLS_PYTHON = BENCH / ".venv-tools" / "bin" / "python"
SOAK_S = 600.0
UPSTREAM_BUSY_PCT = 85  # above this the upstream, not the target, may set the pace


def log(message: str) -> None:
    print(message, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    env = os.environ
    parser.add_argument("--quick", action="store_true", default=env.get("BENCH_QUICK") == "1")
    parser.add_argument("--peers", action="store_true", help="also measure LiteLLM's proxy")
    parser.add_argument(
        "--soak",
        type=float,
        default=_soak_default(env),
        metavar="SECONDS",
        help="run the fixed-rate soak for this long (BENCH_SOAK=1: 600 s)",
    )
    parser.add_argument("--soak-rps", type=float, default=float(env.get("BENCH_SOAK_RPS", 200)))
    parser.add_argument("--report", type=Path, help="only re-render the report of a results JSON")
    parser.add_argument(
        "--update-docs",
        action="store_true",
        help="copy the results into docs/PERFORMANCE.md and README.md (with --report: those)",
    )
    return parser.parse_args(argv)


def _soak_default(env: os._Environ[str]) -> float:
    if env.get("BENCH_SOAK_S"):
        return float(env["BENCH_SOAK_S"])
    return SOAK_S if env.get("BENCH_SOAK") == "1" else 0.0


def command_line(args: argparse.Namespace) -> str:
    """How this run is reproduced, as the make target when it is one."""
    target = "make bench-peers" if args.peers else "make bench"
    extra = [" BENCH_QUICK=1" if args.quick else ""]
    if args.soak:
        extra.append(" BENCH_SOAK=1" if args.soak == SOAK_S else f" BENCH_SOAK_S={args.soak:g}")
    return target + "".join(extra)


def collect(args: argparse.Namespace, workdir: Path) -> dict:
    """Run every phase and return the results document."""
    cpus = Cpus.detect()
    if cpus.load is not None:
        os.sched_setaffinity(0, {cpus.load})
    plan = Plan.make(quick=args.quick, peers=args.peers, soak_s=args.soak, soak_rps=args.soak_rps)
    result: dict = {"meta": _meta(args, plan, cpus), "runs": [], "unavailable": {}}
    # An installed wheel ships byte-compiled modules; the editable dev install may not
    # (PYTHONDONTWRITEBYTECODE), and compiling ~160 modules at every start would be
    # measured as start-up time.
    compileall.compile_dir(BENCH.parent / "src", quiet=1)
    log("routing microbenchmark (bench/micro) ...")
    result["micro"] = facts.routing_micro(workdir, cpus.server)
    for profile in ("zero", "realistic"):
        log(f"phase '{profile}' upstream:")
        phase = run_phase(profile, plan, cpus, workdir, log)
        result["runs"] += phase.runs
        result["unavailable"].update(phase.unavailable)
        if profile == "zero":
            result["processes"] = phase.processes
    if plan.soak_s > 0:
        log(f"soak: {plan.soak_s:g} s at ~{plan.soak_rps:g} req/s ...")
        result["soak"] = run_soak(plan, cpus, workdir, log)
    result["meta"]["finished"] = _now()
    _versions(result)
    return finish(result)


def finish(result: dict) -> dict:
    """Derive the summary, checks and notes from the recorded runs."""
    result["summary"] = summarize(result["runs"])
    result["checks"] = checks(result)
    result["notes"] = notes(result)
    return result


def notes(result: dict) -> list[str]:
    """What a reader needs to interpret the table."""
    found = [
        f"{row['scenario']} / {row['target']}: the upstream simulator was "
        f"{row['upstream_busy_pct']:.0f}% busy on its core, so this target's req/s may be "
        "bounded by the upstream rather than by itself (CPU ms/request is unaffected)."
        for row in result["summary"]
        if (row.get("upstream_busy_pct") or 0) >= UPSTREAM_BUSY_PCT
    ]
    view = result.get("processes", {}).get("tokenhub", {}).get("view", {})
    if view:
        found.append(
            f"tokenhub request log: {view.get('request_log_rows')} rows, writer dropped "
            f"{view.get('writer', {}).get('dropped')}; served by {view.get('served_by')}."
        )
        found.append(features_note(view))
    return found


def features_note(view: dict) -> str:
    """Which production features were on in this run, from what tokenhub recorded."""
    on = ["routing over 20 models (`auto`)", "Prometheus metrics", "access log", "event bus"]
    off = []
    for label, present in (
        ("API-key auth (rate limit + budget)", view.get("api_key_auth")),
        ("request log", view.get("request_log_rows")),
        ("reward rows", view.get("reward_rows")),
        ("TSDB", view.get("tsdb_rows")),
    ):
        (on if present else off).append(label)
    text = f"tokenhub features on: {', '.join(on)}."
    if off:
        text += f" Not recorded in this run (not built yet, or not wired in): {', '.join(off)}."
    return text


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _meta(args: argparse.Namespace, plan: Plan, cpus: Cpus) -> dict:
    from tokenhub import __version__

    return {
        "started": _now(),
        "mode": plan.mode,
        "command": command_line(args),
        "duration_s": plan.duration_s,
        "warmup_s": plan.warmup_s,
        "reps": plan.reps,
        "pinning": cpus.describe(),
        "machine": facts.machine(),
        "tokenhub_version": __version__,
        "commit": facts.git_commit(),
    }


def _versions(result: dict) -> None:
    from tokenhub import __version__

    processes = result.get("processes", {})
    if "tokenhub" in processes:
        processes["tokenhub"]["version"] = f"tokenhub {__version__}"
    if "litellm" in processes:
        processes["litellm"]["version"] = f"litellm {targets.litellm_version()}"
    if "lean" in processes:
        processes["lean"]["version"] = "bench/lean_proxy.py"
    if "direct" in processes:
        processes["direct"]["version"] = "simulator (bench/upstream.py)"


def write(result: dict) -> Path:
    """Write <stamp>.json/.md and latest.json/.md/.png under bench/results."""
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{result['meta']['mode']}"
    text = json.dumps(result, indent=1)
    markdown = render(result)
    for stem in (stamp, "latest"):
        (RESULTS / f"{stem}.json").write_text(text + "\n", encoding="utf-8")
        (RESULTS / f"{stem}.md").write_text(markdown, encoding="utf-8")
    chart(RESULTS / "latest.json", RESULTS / "latest.png")
    return RESULTS / f"{stamp}.md"


def chart(source: Path, out: Path) -> None:
    """Draw the PNG with matplotlib from the bench-only venv, when it is installed."""
    if not TOOLS_PYTHON.exists():
        log("no bench/.venv-tools (scripts/install-bench-deps.sh): skipping the PNG chart")
        return
    subprocess.run([TOOLS_PYTHON, BENCH / "chart.py", source, out], check=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        result = finish(json.loads(args.report.read_text()))
        print(render(result))
        _update_docs(result, enabled=args.update_docs)
        return 0
    if shutil.which("wrk") is None:
        log("wrk is not installed: run scripts/install-bench-deps.sh (make bench does)")
        return 2
    if args.peers and not targets.litellm_available():
        log("LiteLLM is not installed: run bench/peers/install-litellm.sh (make bench-peers does)")
        return 2
    workdir = RESULTS / "tmp" / time.strftime("%Y%m%d-%H%M%S")
    workdir.mkdir(parents=True)
    log(f"benchmark ({shlex.quote(command_line(args))}); logs in {workdir}")
    result = collect(args, workdir)
    path = write(result)
    print()
    print(render(result))
    log(f"written: {path} and bench/results/latest.{{json,md,png}}")
    _update_docs(result, enabled=args.update_docs)
    return 0


def _update_docs(result: dict, *, enabled: bool) -> None:
    if enabled:
        for path in docs.update(result, BENCH.parent):
            log(f"updated {path}")


if __name__ == "__main__":
    sys.exit(main())
