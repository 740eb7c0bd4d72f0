"""Facts around the load runs: the machine, the routing microbenchmark, tokenhub's own view."""

from __future__ import annotations

import json
import platform
import re
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path

from harness.targets import BENCH, ROOT

MICRO_TEST = "test_route_100_eligible_models[normal]"


def machine() -> dict:
    """CPU model, cores, memory, kernel and Python version."""
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kib = int(re.search(r"^MemTotal:\s*(\d+)", meminfo, re.MULTILINE).group(1))
    return {
        "cpu": model.group(1).strip() if model else platform.processor() or "unknown CPU",
        "cores": len(re.findall(r"^processor\s*:", cpuinfo, re.MULTILINE)),
        "memory_gib": mem_kib / 1024 / 1024,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def git_commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "src"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() + ("+dirty src" if dirty.stdout.strip() else "")


def routing_micro(workdir: Path, cpu: int | None) -> dict:
    """The routing decision over 100 models (bench/micro), pinned to the server core."""
    out = workdir / "micro.json"
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    argv = [
        *pin,
        sys.executable,
        "-m",
        "pytest",
        str(BENCH / "micro" / "test_routing.py"),
        "-k",
        "route_100",
        "--benchmark-enable",
        f"--benchmark-json={out}",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0 or not out.exists():
        return {"error": (done.stdout + done.stderr)[-1000:]}
    return parse_micro(json.loads(out.read_text()))


def parse_micro(data: dict) -> dict:
    """Median of the 100-model routing benchmark, in µs, from pytest-benchmark JSON."""
    for bench in data.get("benchmarks", []):
        if bench["name"] == MICRO_TEST:
            return {"route_100_p50_us": bench["stats"]["median"] * 1e6}
    return {}


def tokenhub_view(url: str, home: Path) -> dict:
    """What tokenhub says about the run: writer counters, request-log rows, models used."""
    view: dict = {}
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:  # noqa: S310 - a fixed http:// URL of the daemon under test, not user input
            view["writer"] = parse_writer_metrics(response.read().decode())
    except OSError as exc:
        view["metrics_error"] = str(exc)
    db = home / "data" / "tokenhub.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT model, count(*) FROM request_log GROUP BY model").fetchall()
            view["request_log_rows"] = sum(n for _, n in rows)
            view["served_by"] = dict(sorted(rows, key=lambda r: -r[1]))
            view["reward_rows"] = _count(conn, "rewards")
            tsdb = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'tsdb%'"
            ).fetchall()
            view["tsdb_rows"] = sum(_count(conn, name) or 0 for (name,) in tsdb) if tsdb else None
    return view


def _count(conn: sqlite3.Connection, table: str) -> int | None:
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - the table name is one of our own constants, never user input
    except sqlite3.Error:
        return None


def parse_writer_metrics(text: str) -> dict:
    """Rows written and dropped by the background writer, summed over tables."""
    totals = {"written": 0.0, "dropped": 0.0}
    for line in text.splitlines():
        for kind in totals:
            if line.startswith(f"tokenhub_writer_rows_{kind}_total"):
                totals[kind] += float(line.rsplit(" ", 1)[1])
    return totals
