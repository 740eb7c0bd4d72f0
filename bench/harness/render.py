"""The markdown report of a results JSON: tables for scenarios, processes and targets."""

from __future__ import annotations

from harness.report import checks


def _f(value: float | None, fmt: str = ".2f", suffix: str = "") -> str:
    return "—" if value is None else f"{value:{fmt}}{suffix}"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}"


SCENARIO_HEADER = (
    "| scenario | target | req/s (median) | spread | p50 ms | p99 ms | +p50 vs direct ms "
    "| server CPU ms/req | TTFT p50 ms | +TTFT ms | errors |\n"
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
)


def _scenario_line(r: dict) -> str:
    return (
        f"| {r['scenario']} | {r['target']} | {_f(r['rps'], '.0f')} "
        f"| ±{_f(r['rps_spread_pct'], '.0f', '%')} | {_f(r['p50_ms'])} | {_f(r['p99_ms'])} "
        f"| {_signed(r['added_p50_ms'])} | {_f(r['cpu_ms_per_req'], '.3f')} "
        f"| {_f(r['ttft_p50_ms'])} | {_signed(r['added_ttft_ms'])} "
        f"| {r['errors']}/{r['requests']} |"
    )


def scenario_table(rows: list[dict]) -> str:
    """One line per scenario and target."""
    return "\n".join([SCENARIO_HEADER, *(_scenario_line(r) for r in rows)])


def process_table(processes: dict[str, dict]) -> str:
    """Startup and memory per target process."""
    lines = [
        "| target | startup to first answer s | steady RSS MiB | peak RSS MiB | version |",
        "|---|--:|--:|--:|---|",
    ]
    for name, p in processes.items():
        lines.append(
            f"| {name} | {_f(p.get('startup_s'), '.2f')} | {_f(p.get('steady_rss_mib'), '.1f')} "
            f"| {_f(p.get('peak_rss_mib'), '.1f')} | {p.get('version') or '—'} |"
        )
    return "\n".join(lines)


def checks_table(result: dict) -> str:
    """The issue's targets, measured, with pass / fail."""
    lines = ["| target | goal | measured | result |", "|---|---|---|---|"]
    for c in checks(result):
        mark = {"pass": "**pass**", "fail": "**FAIL**"}.get(c["status"], c["status"])
        lines.append(f"| {c['what']} | {c['goal']} | {c['measured']} | {mark} |")
    return "\n".join(lines)


def unavailable_lines(result: dict) -> list[str]:
    """Scenarios that did not run, with the reason."""
    return [
        f"- `{name}`: not available — {why}" for name, why in result.get("unavailable", {}).items()
    ]


def machine_line(meta: dict) -> str:
    m = meta["machine"]
    return (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']:.0f} GiB, Linux {m['kernel']}, "
        f"Python {m['python']}"
    )


def render(result: dict) -> str:
    """The whole report as markdown."""
    meta = result["meta"]
    soak = result.get("soak")
    parts = [
        f"## Benchmark results — {meta['mode']} mode, {meta['started']}",
        "",
        (
            f"Machine: {machine_line(meta)}. Command: `{meta['command']}` "
            f"(tokenhub {meta.get('tokenhub_version', '?')}, commit {meta.get('commit', '?')})."
        ),
        (
            f"Pinning: {meta['pinning']}. Each scenario: {meta['duration_s']:g} s per run "
            f"after {meta['warmup_s']:g} s warm-up, {meta['reps']} runs per target, "
            "targets interleaved."
        ),
        "",
        scenario_table(result["summary"]),
        "",
        process_table(result.get("processes", {})),
        "",
        checks_table(result),
    ]
    if soak:
        parts += [
            "",
            (
                f"Soak: {soak['duration_s'] / 60:.1f} min at ~{soak['rps']:.0f} req/s on "
                f"{soak['target']}: RSS {soak['rss_start_mib']:.1f} → "
                f"{soak['rss_end_mib']:.1f} MiB, growth after warm-up "
                f"{_f(soak['growth_mib_per_min'], '.3f')} MiB/min, "
                f"{soak['errors']} errors of {soak['requests']}."
            ),
        ]
    notes = unavailable_lines(result) + [f"- {n}" for n in result.get("notes", [])]
    if notes:
        parts += ["", *notes]
    return "\n".join(parts) + "\n"
