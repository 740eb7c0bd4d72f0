"""One phase: an upstream profile, its targets started once, every scenario interleaved.

For each scenario and repetition the targets run one after another, in an order rotated
per repetition so no target always goes first. Around every run the harness snapshots
``/proc`` for the target and the upstream: CPU per request, how busy each core was, and
memory.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import facts, probe, procs, targets, wrk
from harness.plan import Cpus, Plan, Scenario
from harness.stats import median, percentile

SCENARIO_FILES = targets.BENCH / "scenarios"
NOT_FOUND = (404, 405)
WARMUP_PROBES = 16


@dataclass
class PhaseResult:
    """Runs, per-process facts and unavailable scenarios of one phase."""

    runs: list[dict] = field(default_factory=list)
    processes: dict[str, dict] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def specs(profile: str, plan: Plan, cpus: Cpus, workdir: Path) -> tuple[targets.Spec, list]:
    """The upstream and the targets of a phase."""
    scenario = SCENARIO_FILES / f"{profile}.yaml"
    upstream = targets.upstream_spec("upstream", scenario, cpus.load)
    direct = targets.upstream_spec("direct", scenario, cpus.server)
    home = Path(tempfile.mkdtemp(prefix="tokenhub-bench-"))
    chosen = [
        direct,
        targets.lean_spec(upstream, cpus.server),
        targets.tokenhub_spec(upstream, workdir, home, cpus.server),
    ]
    if plan.peers:
        chosen.append(targets.litellm_spec(upstream, cpus.server))
    return upstream, chosen


def _rotated(items: list, by: int) -> list:
    by %= len(items)
    return items[by:] + items[:by]


def _busy_pct(before: procs.Snapshot, after: procs.Snapshot, wall_s: float) -> float:
    return procs.cpu_ms(before, after) / (wall_s * 1000) * 100


def _load(scenario: Scenario, target: targets.Running, plan: Plan, cpus: Cpus, *, warmup: bool):
    spec = target.spec
    if scenario.tool == "probe":
        requests = WARMUP_PROBES if warmup else plan.probe_requests(scenario)
        url = spec.url + spec.chat_path
        result = probe.run_probe(url, spec.model, requests, scenario.connections, spec.api_key)
        return _probe_record(result)
    path = spec.plan_path if scenario.endpoint == "plan" else spec.chat_path
    secs = plan.warmup_s if warmup else plan.duration_s
    run = spec.wrk_run(scenario.script, scenario.connections, secs, path=path)
    return _wrk_record(wrk.run(run, cpus.load))


def _wrk_record(result: wrk.WrkResult) -> dict:
    return {
        "tool": "wrk",
        "requests": result.requests,
        "ok": result.ok_requests,
        "errors": result.error_count,
        "error_detail": result.errors,
        "duration_s": result.duration_s,
        "rps": result.ok_requests / result.duration_s if result.duration_s else 0.0,
        "latency_us": result.latency_us,
    }


def _probe_record(result: probe.ProbeResult) -> dict:
    ok = len(result.total_us)
    return {
        "tool": "probe",
        "requests": result.requests,
        "ok": ok,
        "errors": result.errors,
        "duration_s": result.duration_s,
        "rps": ok / result.duration_s if result.duration_s else 0.0,
        "latency_us": {
            "p50": median(result.total_us),
            "p99": percentile(result.total_us, 99),
        },
        "ttft_us": {"p50": median(result.ttft_us), "p99": percentile(result.ttft_us, 99)},
    }


def measure(
    scenario: Scenario,
    target: targets.Running,
    upstream: targets.Running | None,
    plan: Plan,
    cpus: Cpus,
) -> dict:
    """One measured run with /proc accounting around it."""
    before = procs.snapshot(target.pid)
    up_before = procs.snapshot(upstream.pid) if upstream else None
    started = time.monotonic()
    record = _load(scenario, target, plan, cpus, warmup=False)
    wall = time.monotonic() - started
    after = procs.snapshot(target.pid)
    record.update(
        target=target.spec.name,
        scenario=scenario.name,
        cpu_ms_per_req=procs.cpu_ms_per_request(before, after, record["ok"]),
        server_busy_pct=_busy_pct(before, after, wall),
        rss_mib=after.rss_mib,
        hwm_mib=after.hwm_mib,
    )
    if upstream is not None and up_before is not None:
        up_after = procs.snapshot(upstream.pid)
        record["upstream_busy_pct"] = _busy_pct(up_before, up_after, wall)
        record["upstream_cpu_ms_per_req"] = procs.cpu_ms_per_request(
            up_before, up_after, record["ok"]
        )
    return record


def plan_unavailable(target: targets.Running) -> str | None:
    """Why the /v1/plan scenario cannot run on this target, or None when it can."""
    spec = target.spec
    assert spec.plan_path is not None
    status, _ = targets.post_json(spec.url, spec.plan_path, {}, spec.api_key)
    if status in NOT_FOUND:
        return (
            f"{spec.name} answers {status} to POST {spec.plan_path} "
            "(orchestration lands with a later issue)"
        )
    return None


Log = Callable[[str], None]


def run_phase(profile: str, plan: Plan, cpus: Cpus, workdir: Path, log: Log) -> PhaseResult:
    """Start the profile's processes, run its scenarios interleaved, stop everything."""
    result = PhaseResult()
    upstream_spec, target_specs = specs(profile, plan, cpus, workdir)
    started: list[targets.Running] = []
    try:
        upstream = targets.start(upstream_spec, workdir)
        started.append(upstream)
        for spec in target_specs:
            started.append(targets.start(spec, workdir))
            log(f"  {spec.name} answered {started[-1].startup_s:.2f} s after start")
        running = started[1:]
        for scenario in (s for s in plan.scenarios if s.profile == profile):
            _run_scenario(scenario, running, upstream, plan, cpus, result, log)
        for target in running:
            result.processes[target.spec.name] = _process_facts(target)
    finally:
        for proc in reversed(started):
            proc.stop()
        for spec in target_specs:
            if home := spec.env.get("TOKENHUB_HOME"):
                shutil.rmtree(home, ignore_errors=True)
    return result


def _run_scenario(scenario, running, upstream, plan, cpus, result: PhaseResult, log) -> None:
    chosen = running
    if scenario.endpoint == "plan":
        reasons = {t.spec.name: plan_unavailable(t) for t in running if t.spec.plan_path}
        chosen = [t for t in running if t.spec.name in reasons and reasons[t.spec.name] is None]
        if not chosen:
            why = "; ".join(filter(None, reasons.values())) or "no target has a plan endpoint"
            result.unavailable[scenario.name] = why
            log(f"  {scenario.name}: not available ({why})")
            return
    for rep in range(plan.reps):
        for target in _rotated(chosen, rep):
            up = None if target.spec.name == "direct" else upstream
            try:
                if rep == 0 and plan.warmup_s > 0:
                    _load(scenario, target, plan, cpus, warmup=True)
                record = measure(scenario, target, up, plan, cpus)
            except (wrk.WrkError, subprocess.TimeoutExpired) as exc:
                # One failed run (a target that died, wrk that could not connect) is
                # reported; the rest of the benchmark goes on.
                key = f"{scenario.name} / {target.spec.name} rep {rep}"
                result.unavailable[key] = f"the load run failed: {str(exc)[:300]}"
                log(f"  {key}: failed ({exc})")
                continue
            record["rep"] = rep
            result.runs.append(record)
            log(
                f"  {scenario.name:15} {target.spec.name:9} rep {rep}: "
                f"{record['rps']:8.0f} req/s  cpu {record['cpu_ms_per_req'] or 0:.3f} ms/req  "
                f"errors {record['errors']}"
            )


def _process_facts(target: targets.Running) -> dict:
    snap = procs.snapshot(target.pid)
    found = {
        "startup_s": target.startup_s,
        "steady_rss_mib": snap.rss_mib,
        "peak_rss_mib": snap.hwm_mib,
        "pids": list(snap.pids),
    }
    if home := target.spec.env.get("TOKENHUB_HOME"):
        time.sleep(1.5)  # let the background writer flush its last batch
        found["view"] = facts.tokenhub_view(target.spec.url, Path(home))
        found["view"]["api_key_auth"] = bool(target.spec.api_key)
    return found
