"""The soak: tokenhub at a fixed request rate for minutes, RSS sampled throughout.

wrk has no rate option, so the rate is set by pausing each connection between requests
(report.lua's ``delay()``): ``connections / (pause + latency)`` requests per second. The
growth is the least-squares slope of RSS over time after the warm-up.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from harness import procs, targets, wrk
from harness.plan import Cpus, Plan
from harness.stats import slope

CONNECTIONS = 4
SAMPLE_EVERY_S = 5.0
WARMUP_FRACTION = 0.2
WARMUP_MAX_S = 120.0


def growth_after_warmup(samples: list[tuple[float, float]], duration_s: float) -> float | None:
    """MiB per minute from (seconds, RSS MiB) samples, ignoring the warm-up."""
    warm = min(duration_s * WARMUP_FRACTION, WARMUP_MAX_S)
    kept = [(t, rss) for t, rss in samples if t >= warm]
    per_s = slope([t for t, _ in kept], [rss for _, rss in kept])
    return None if per_s is None else per_s * 60


def run_soak(plan: Plan, cpus: Cpus, workdir: Path, log) -> dict:
    """Start a fresh upstream and tokenhub, load at a fixed rate, sample memory."""
    scenario = targets.BENCH / "scenarios" / "zero.yaml"
    upstream_spec = targets.upstream_spec("soak-upstream", scenario, cpus.load)
    home = Path(tempfile.mkdtemp(prefix="tokenhub-soak-"))
    upstream = targets.start(upstream_spec, workdir)
    try:
        spec = targets.tokenhub_spec(upstream_spec, workdir, home, cpus.server)
        spec.name = "soak-tokenhub"
        target = targets.start(spec, workdir)
        try:
            return _soak(target, plan, cpus, log)
        finally:
            target.stop()
    finally:
        upstream.stop()
        shutil.rmtree(home, ignore_errors=True)


def _soak(target: targets.Running, plan: Plan, cpus: Cpus, log) -> dict:
    spec = target.spec
    run = spec.wrk_run(
        "chat.lua", CONNECTIONS, plan.soak_s, delay_ms=CONNECTIONS / plan.soak_rps * 1000
    )
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    process = subprocess.Popen(
        run.argv(cpus.load), env=run.env(), stdout=subprocess.PIPE, text=True
    )
    while process.poll() is None:
        elapsed = time.monotonic() - started
        samples.append((elapsed, procs.snapshot(target.pid).rss_mib))
        if len(samples) % 12 == 0:
            log(f"  soak {elapsed / 60:.1f} min: RSS {samples[-1][1]:.1f} MiB")
        time.sleep(SAMPLE_EVERY_S)
    result = wrk.parse_output(process.communicate()[0])
    samples.append((time.monotonic() - started, procs.snapshot(target.pid).rss_mib))
    return {
        "target": "tokenhub",
        "duration_s": result.duration_s,
        "rps": result.rps,
        "requests": result.requests,
        "errors": result.error_count,
        "rss_start_mib": samples[0][1],
        "rss_end_mib": samples[-1][1],
        "growth_mib_per_min": growth_after_warmup(samples, result.duration_s),
        "samples": samples,
    }
