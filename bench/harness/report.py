"""Turning recorded runs into the summary, the pass/fail checks and the markdown report.

Pure functions of the results JSON (bench/results/*.json), so the report can be rebuilt
from a stored run and is unit-tested from a fixture.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from harness.stats import median, spread_pct

DIRECT = "direct"
MB_IN_MIB = 1e6 / (1024 * 1024)
TARGET_ORDER = ("direct", "lean", "tokenhub", "litellm")


def _order(target: str) -> int:
    return TARGET_ORDER.index(target) if target in TARGET_ORDER else len(TARGET_ORDER)


def _med(runs: list[dict], *path: str) -> float | None:
    values = []
    for run in runs:
        value: Any = run
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            values.append(float(value))
    return median(values)


def _ms(value: float | None) -> float | None:
    return None if value is None else value / 1000


def summarize(runs: Iterable[dict]) -> list[dict]:
    """One row per (scenario, target): medians over repetitions, plus added latency."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["scenario"], run["target"]), []).append(run)
    rows = [_row(scenario, target, group) for (scenario, target), group in groups.items()]
    by_key = {(r["scenario"], r["target"]): r for r in rows}
    for row in rows:
        direct = by_key.get((row["scenario"], DIRECT))
        row["added_p50_ms"] = _diff(row, direct, "p50_ms")
        row["added_ttft_ms"] = _diff(row, direct, "ttft_p50_ms")
    order = {s: i for i, s in enumerate(dict.fromkeys(r["scenario"] for r in rows))}
    return sorted(rows, key=lambda r: (order[r["scenario"]], _order(r["target"])))


def _row(scenario: str, target: str, runs: list[dict]) -> dict:
    rps = [float(r["rps"]) for r in runs]
    return {
        "scenario": scenario,
        "target": target,
        "reps": len(runs),
        "rps": median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "rps_spread_pct": spread_pct(rps),
        "p50_ms": _ms(_med(runs, "latency_us", "p50")),
        "p99_ms": _ms(_med(runs, "latency_us", "p99")),
        "ttft_p50_ms": _ms(_med(runs, "ttft_us", "p50")),
        "ttft_p99_ms": _ms(_med(runs, "ttft_us", "p99")),
        "cpu_ms_per_req": _med(runs, "cpu_ms_per_req"),
        "upstream_busy_pct": _med(runs, "upstream_busy_pct"),
        "server_busy_pct": _med(runs, "server_busy_pct"),
        "requests": sum(int(r["requests"]) for r in runs),
        "errors": sum(int(r["errors"]) for r in runs),
    }


def _diff(row: dict, direct: dict | None, key: str) -> float | None:
    if direct is None or row["target"] == DIRECT or row[key] is None or direct[key] is None:
        return None
    return row[key] - direct[key]


# -- checks against the targets ---------------------------------------------------


def _get(rows: list[dict], scenario: str, target: str, key: str) -> float | None:
    for row in rows:
        if row["scenario"] == scenario and row["target"] == target:
            return row[key]
    return None


def _check(what: str, goal: str, measured: str | None, ok: bool | None) -> dict:
    status = "not measured" if ok is None else ("pass" if ok else "fail")
    return {"what": what, "goal": goal, "measured": measured or "—", "status": status}


def _ratio_check(rows, scenario, key, other, goal_x, what, *, at_most=False) -> dict:
    mine, theirs = _get(rows, scenario, "tokenhub", key), _get(rows, scenario, other, key)
    sign = "≤" if at_most else "≥"
    goal = f"{sign} {goal_x:g} x {other}"
    if mine is None or not theirs:
        return _check(what, goal, None, None)
    ratio = mine / theirs
    ok = ratio <= goal_x if at_most else ratio >= goal_x
    return _check(what, goal, f"{ratio:.2f} x ({_num(mine)} vs {_num(theirs)})", ok)


def _num(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _limit_check(value: float | None, limit: float, what: str, goal: str, unit: str) -> dict:
    if value is None:
        return _check(what, goal, None, None)
    return _check(what, goal, f"{value:.3g} {unit}", value <= limit)


def _added_check(
    rows: list[dict], scenario: str, field: str, limit: float, what: str, goal: str
) -> dict:
    """An absolute latency target, with what the lean floor added in the same run beside it.

    The floor's figure says how much of the limit the machine leaves to any Python gateway.
    """
    check = _limit_check(_get(rows, scenario, "tokenhub", field), limit, what, goal, "ms")
    floor = _get(rows, scenario, "lean", field)
    if check["status"] != "not measured" and floor is not None:
        check["measured"] += f" (lean floor: {floor:.3g} ms)"
    return check


def checks(result: dict) -> list[dict]:
    """Each of the issue's targets with its measured value and pass / fail / not measured."""
    rows = result["summary"]
    th = result.get("processes", {}).get("tokenhub", {})
    micro = result.get("micro") or {}
    soak = result.get("soak") or {}
    steady = th.get("steady_rss_mib")
    return [
        _ratio_check(rows, "chat-c8", "rps", "lean", 0.5, "req/s, non-streaming c=8"),
        _ratio_check(rows, "chat-c8", "rps", "litellm", 30, "req/s, non-streaming c=8"),
        _ratio_check(
            rows, "chat-c8", "cpu_ms_per_req", "lean", 2, "CPU ms/request, c=8", at_most=True
        ),
        _added_check(
            rows, "chat-c1", "added_p50_ms", 0.5, "added p50 latency, c=1", "≤ 0.5 ms over direct"
        ),
        _ratio_check(rows, "stream-c8", "rps", "lean", 0.5, "req/s, streaming c=8"),
        _added_check(
            rows, "ttft-c1", "added_ttft_ms", 1.0, "added TTFT (streaming)", "≤ 1 ms over direct"
        ),
        _limit_check(
            micro.get("route_100_p50_us"),
            100,
            "routing decision, 100 models (p50)",
            "< 100 µs",
            "µs",
        ),
        _limit_check(steady, 100 * MB_IN_MIB, "steady RSS", "≤ 100 MB (95.4 MiB)", "MiB"),
        _limit_check(
            soak.get("growth_mib_per_min"),
            1.0,
            "soak RSS growth after warm-up",
            "≤ 1 MiB/min",
            "MiB/min",
        ),
        _limit_check(soak.get("errors") if soak else None, 0, "soak errors", "none", "errors"),
        _limit_check(th.get("startup_s"), 2.0, "startup to first answered request", "≤ 2 s", "s"),
    ]
