"""Running ``wrk`` and reading its results.

Each request script (bench/wrk/*.lua) loads report.lua, whose ``done()`` prints one
``WRK_JSON {...}`` line with every figure wrk keeps; :func:`parse_output` reads it.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import procs

MARKER = "WRK_JSON "
WRK_DIR = Path(__file__).resolve().parent.parent / "wrk"


class WrkError(RuntimeError):
    """wrk failed or printed no summary."""


@dataclass(frozen=True, slots=True)
class WrkResult:
    """What one wrk run measured."""

    requests: int
    duration_s: float
    bytes: int
    errors: dict[str, int]
    latency_us: dict[str, float]

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        """Socket errors, timeouts and answers with status >= 400."""
        return sum(self.errors.values())

    @property
    def ok_requests(self) -> int:
        return max(0, self.requests - self.errors.get("status", 0))


def parse_output(stdout: str) -> WrkResult:
    """The result from wrk's stdout; raises WrkError when the summary line is missing."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            return WrkResult(
                requests=int(data["requests"]),
                duration_s=data["duration_us"] / 1e6,
                bytes=int(data["bytes"]),
                errors={k: int(v) for k, v in data["errors"].items()},
                latency_us={k: float(v) for k, v in data["latency_us"].items()},
            )
    raise WrkError(f"wrk printed no summary line:\n{stdout[-2000:]}")


@dataclass(frozen=True, slots=True)
class WrkRun:
    """One wrk invocation: script, URL, load shape."""

    script: str
    url: str
    connections: int
    duration_s: float
    model: str
    delay_ms: float = 0.0
    api_key: str = ""
    timeout_s: float = 10.0

    def argv(self, cpu: int | None) -> list[str]:
        """The command line; ``cpu`` pins wrk to one core with taskset."""
        pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
        return [
            *pin,
            "wrk",
            "-t1",
            f"-c{self.connections}",
            f"-d{max(1, round(self.duration_s))}s",
            f"--timeout={max(1, round(self.timeout_s))}s",
            "-s",
            str(WRK_DIR / self.script),
            self.url,
        ]

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BENCH_WRK_DIR": str(WRK_DIR),
            "BENCH_MODEL": self.model,
            "BENCH_API_KEY": self.api_key,
            "BENCH_DELAY_MS": f"{self.delay_ms:g}",
        }


def run(spec: WrkRun, cpu: int | None) -> WrkResult:
    """Run wrk to completion and parse its summary."""
    done = subprocess.run(
        spec.argv(cpu),
        env=spec.env(),
        capture_output=True,
        text=True,
        timeout=spec.duration_s + spec.timeout_s + 30,
        check=False,
    )
    if done.returncode != 0:
        raise WrkError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout}")
    return parse_output(done.stdout)


@dataclass(frozen=True, slots=True)
class Measured:
    """One wrk run against one server, with the server's CPU over the run."""

    result: WrkResult
    cpu_ms_per_request: float | None


def measured(spec: WrkRun, server_pid: int, cpu: int | None) -> Measured:
    """Run wrk (pinned to ``cpu``) and read the server's CPU before and after."""
    before = procs.snapshot(server_pid)
    result = run(spec, cpu)
    after = procs.snapshot(server_pid)
    return Measured(result, procs.cpu_ms_per_request(before, after, result.requests))
