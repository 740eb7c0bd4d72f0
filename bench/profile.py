"""Profile tokenhub under load: py-spy on the tokenhub process while wrk runs at c=8.

    .venv/bin/python bench/profile.py [--seconds 10] [--connections 8] [--stream]

Starts the zero-latency upstream and tokenhub exactly as ``make bench`` does (same config,
same pinning), runs wrk, records with py-spy (bench/.venv-tools) for ``--seconds``, and
writes the collapsed stacks and a markdown list of the hottest functions — by samples where
the function itself was running ("self") and where it was on the stack ("total") — to
bench/results/profile-latest.{txt,md}.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import procs, targets
from harness.plan import Cpus

BENCH = Path(__file__).resolve().parent
PY_SPY = BENCH / ".venv-tools" / "bin" / "py-spy"
OUT = BENCH / "results"


def parse_collapsed(text: str) -> tuple[Counter[str], Counter[str], int]:
    """(self samples, total samples, all samples) per frame from py-spy's raw output."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        samples += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            total[frame] += int(count)
    return own, total, samples


# Where a gateway request's event-loop time goes, by the frame that starts each part.
COMPONENTS = (
    ("upstream call (upstream client, adapter)", "HttpAdapter._fetch ("),
    ("writing the response (aiohttp)", "RequestHandler.finish_response ("),
    ("API-key admission (hash, budget period, rate limit)", "KeyRing.admit ("),
    ("access log line (logging, JSON, redaction)", "JsonAccessLogger.log ("),
    ("request log row + metrics + events + TSDB", "log_request ("),
    ("request parsing (OpenAI wire to canonical)", "parse_request ("),
    ("routing decision (cached scoring + draw)", "CachedRouter.route ("),
    ("reading the request body", "read_json ("),
    ("rendering the answer (wire + JSON)", "json_response ("),
    ("decision headers", "decision_headers ("),
)


def component_table(counts: Counter[str], samples: int) -> str:
    """Inclusive share of each component, matched by its entry frame."""
    lines = ["| part of the request | % of event-loop samples |", "|---|--:|"]
    for label, marker in COMPONENTS:
        hits = sum(n for frame, n in counts.items() if frame.startswith(marker.rstrip("(")))
        lines.append(f"| {label} | {hits / samples * 100:.1f} |")
    return "\n".join(lines)


def top_table(counts: Counter[str], samples: int, n: int) -> str:
    lines = ["| # | function (file:line) | % of samples |", "|--:|---|--:|"]
    for i, (frame, count) in enumerate(counts.most_common(n), 1):
        lines.append(f"| {i} | `{_short(frame)}` | {count / samples * 100:.1f} |")
    return "\n".join(lines)


def _short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


def thread_ticks(pid: int) -> dict[str, int]:
    """utime + stime per thread (name and id) of a process, from /proc/<pid>/task."""
    ticks = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        ticks[f"{name} [{task.name}]"] = procs.parse_stat(text)[1]
    return ticks


def thread_table(before: dict[str, int], after: dict[str, int], seconds: float) -> str:
    lines = ["| thread [tid] | CPU % of a core |", "|---|--:|"]
    used = {name: after[name] - before.get(name, 0) for name in after}
    for name, ticks in sorted(used.items(), key=lambda item: -item[1]):
        lines.append(f"| {name} | {ticks / procs.CLK_TCK / seconds * 100:.1f} |")
    return "\n".join(lines)


def record(seconds: float, connections: int, script: str) -> tuple[str, str]:
    cpus = Cpus.detect()
    if cpus.load is not None:
        os.sched_setaffinity(0, {cpus.load})
    workdir = Path(tempfile.mkdtemp(prefix="tokenhub-profile-"))
    upstream = targets.start(
        targets.upstream_spec("upstream", BENCH / "scenarios" / "zero.yaml", cpus.load), workdir
    )
    try:
        spec = targets.tokenhub_spec(upstream.spec, workdir, workdir / "home", cpus.server)
        (workdir / "home").mkdir()
        tokenhub = targets.start(spec, workdir)
        try:
            return _record(tokenhub, seconds, connections, script, cpus)
        finally:
            tokenhub.stop()
    finally:
        upstream.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _record(tokenhub, seconds: float, connections: int, script: str, cpus: Cpus):
    spec = tokenhub.spec
    run = spec.wrk_run(script, connections, seconds + 4)
    load = subprocess.Popen(run.argv(cpus.load), env=run.env(), stdout=subprocess.DEVNULL)
    try:
        time.sleep(2)  # past warm-up
        raw = OUT / "profile-latest.txt"
        before, started = thread_ticks(tokenhub.pid), time.monotonic()
        subprocess.run(
            [PY_SPY, "record", "-p", str(tokenhub.pid), "-d", str(round(seconds)), "-r", "250",
             "--function", "--threads", "-f", "raw", "-o", str(raw)],
            check=True, capture_output=True,
        )  # fmt: skip
        threads = thread_table(before, thread_ticks(tokenhub.pid), time.monotonic() - started)
        return raw.read_text(), threads
    finally:
        load.wait(timeout=seconds + 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--stream", action="store_true", help="profile streaming requests")
    args = parser.parse_args()
    script = "stream.lua" if args.stream else "chat.lua"
    text, threads = record(args.seconds, args.connections, script)
    _own, total, samples = parse_collapsed(text)
    main_thread = "\n".join(
        line for line in text.splitlines() if "MainThread" in line.split(";")[0]
    )
    main_own, main_total, main_samples = parse_collapsed(main_thread)
    report = "\n".join(
        [
            (
                f"## tokenhub profile: {script}, c={args.connections}, {args.seconds:g} s, "
                f"{samples} samples (py-spy, on-CPU only)"
            ),
            "",
            "### CPU per thread during the recording (/proc/<pid>/task)",
            "",
            threads,
            "",
            "### Samples per thread (py-spy)",
            "",
            top_table(
                Counter({f: n for f, n in total.items() if f.startswith("thread")}), samples, 10
            ),
            "",
            "### Event-loop thread by part of the request (inclusive)",
            "",
            component_table(main_total, main_samples),
            "",
            f"### Event-loop thread, self ({main_samples} samples)",
            "",
            top_table(main_own, main_samples, 30),
            "",
            "### Event-loop thread, total (the function was on the stack)",
            "",
            top_table(main_total, main_samples, 45),
            "",
        ]
    )
    (OUT / "profile-latest.md").write_text(report, encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
