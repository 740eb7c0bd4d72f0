"""What a benchmark run does: scenarios, durations, repetitions, pinning."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Scenario:
    """One load shape, run against every target of its profile."""

    name: str
    profile: str  # upstream scenario: "zero" or "realistic"
    tool: str  # "wrk" or "probe" (the streaming TTFT client)
    connections: int
    script: str = "chat.lua"
    endpoint: str = "chat"  # "chat", or "plan" for /v1/plan (tokenhub only)
    probe_requests: tuple[int, int] = (0, 0)  # (quick, full) requests for a probe


SCENARIOS = (
    Scenario("chat-c1", "zero", "wrk", 1),
    Scenario("chat-c8", "zero", "wrk", 8),
    Scenario("chat-c64", "zero", "wrk", 64),
    Scenario("stream-c8", "zero", "wrk", 8, "stream.lua"),
    Scenario("ttft-c1", "zero", "probe", 1, probe_requests=(100, 1000)),
    Scenario("plan-c8", "zero", "wrk", 8, "plan.lua", endpoint="plan"),
    Scenario("real-stream-c8", "realistic", "probe", 8, probe_requests=(48, 400)),
)


@dataclass(frozen=True, slots=True)
class Cpus:
    """Which core runs what: the server under test alone on one, the rest on the other."""

    server: int | None
    load: int | None

    @classmethod
    def detect(cls) -> Cpus:
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) < 2:
            return cls(None, None)
        return cls(cores[-1], cores[0])

    def describe(self) -> str:
        if self.server is None:
            return "none (fewer than 2 cores)"
        return (
            f"the server under test alone on core {self.server}; wrk, the upstream simulator "
            f"and the harness (TTFT client) on core {self.load} (taskset / sched_setaffinity)"
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """Durations and repetitions of one run."""

    quick: bool
    duration_s: float
    warmup_s: float
    reps: int
    peers: bool
    soak_s: float
    soak_rps: float
    scenarios: tuple[Scenario, ...] = field(default=SCENARIOS)

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def probe_requests(self, scenario: Scenario) -> int:
        return scenario.probe_requests[0 if self.quick else 1]

    @classmethod
    def make(cls, *, quick: bool, peers: bool, soak_s: float, soak_rps: float) -> Plan:
        if quick:
            return cls(True, 3, 1, 2, peers, soak_s, soak_rps)
        return cls(False, 15, 3, 3, peers, soak_s, soak_rps)
