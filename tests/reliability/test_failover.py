"""Failover under sustained faults: two equal models behind one alias, closed-loop load."""

from __future__ import annotations

import math

import pytest

from tokenhub.sim import Call, Simulator
from tokenhub.testing.load import LoadRun, Outcome, chat_request, percentile, run_load, summarize
from tokenhub.testing.stack import gateway_stack

from . import pair
from .pair import ALIAS, Size, hang_share, sizes

SLOW_S = 1.0
"""A request that met no hang answers within this (the adaptive timeout's floor + B)."""

ATTEMPT_BUDGET = 4
"""The default ``routing.attempt_budget``: the most upstream calls one request may make."""

IN_FLIGHT_GRACE_S = 0.25
"""Calls already on their way when a 429 came back are not counted against its window."""

DEGRADED = {"error_rate": {500: 0.3}, "hang": hang_share(0.1, 0.3)}


def calls(sim: Simulator) -> list[Call]:
    """Every call the simulated models answered, in order."""
    return sorted(sim.state.calls, key=lambda c: c.started)


@pytest.mark.parametrize("size", sizes(Size(2.5, 10, timeout_s=1.5), Size(30, 20, timeout_s=10)))
async def test_one_degraded(size: Size, table):
    """With A at 30 % 500 + 10 % hangs and B at 1 % 500, ≥ 99.9 % succeed; only hangs are slow."""
    scenario = pair.scenario(DEGRADED, {"error_rate": {500: 0.01}})
    async with gateway_stack(scenario, pair.registry(size.timeout_s)) as stack:
        run = await run_load(
            stack.url, chat_request(ALIAS), concurrency=size.concurrency, duration_s=size.duration_s
        )
        summary = summarize(run.outcomes)
        hangs = sum(c.outcome == "hang" for c in calls(stack.sim))
    slow = sum(o.latency_s > SLOW_S for o in run.outcomes)
    holds = summary.success_pct >= 99.9 and slow <= hangs
    table(
        "one degraded",
        f"≥ 99.9 % success; requests slower than {SLOW_S:.0f} s ≤ hangs served",
        f"{summary.describe()}; {slow} slower than {SLOW_S:.0f} s, {hangs} hangs",
        holds,
    )
    assert summary.success_pct >= 99.9, summary.describe()
    assert slow <= hangs


def expected_attempts(failure: float, budget: int) -> float:
    """Upstream calls per request when each fails independently with ``failure``."""
    return sum(failure**i for i in range(budget))


def attempts_variance(failure: float, budget: int) -> float:
    """The variance of that count: k calls with (1 - f) f^(k-1), all ``budget`` with f^(b-1)."""
    odds = [(1 - failure) * failure ** (k - 1) for k in range(1, budget)] + [
        failure ** (budget - 1)
    ]
    mean = sum(k * p for k, p in enumerate(odds, 1))
    return sum(k * k * p for k, p in enumerate(odds, 1)) - mean * mean


@pytest.mark.parametrize("size", sizes(Size(2.5, 10, timeout_s=1.5), Size(30, 20, timeout_s=10)))
async def test_both_degraded(size: Size, table):
    """Both at 30 % 500 + 10 % hangs: ≥ 97 % succeed at about the attempts independence needs."""
    scenario = pair.scenario(DEGRADED, DEGRADED)
    async with gateway_stack(scenario, pair.registry(size.timeout_s)) as stack:
        run = await run_load(
            stack.url, chat_request(ALIAS), concurrency=size.concurrency, duration_s=size.duration_s
        )
        upstream = len(calls(stack.sim))
    summary = summarize(run.outcomes)
    per_request = upstream / max(1, summary.requests)
    failure = 0.4
    expected = expected_attempts(failure, ATTEMPT_BUDGET)
    # Short runs widen both bounds by sampling error (see pair.sampling_slack).
    miss = failure**ATTEMPT_BUDGET
    floor = 97 - 100 * pair.sampling_slack(size, math.sqrt(miss * (1 - miss)), summary.requests)
    spread = math.sqrt(attempts_variance(failure, ATTEMPT_BUDGET))
    allowed = max(0.1 * expected, pair.sampling_slack(size, spread, summary.requests))
    close = abs(per_request - expected) <= allowed
    table(
        "both degraded",
        f"≥ 97 % success; upstream calls per request within 10 % of {expected:.2f}",
        f"{summary.describe()}; {per_request:.2f} upstream calls/request",
        summary.success_pct >= floor and close,
    )
    assert summary.success_pct >= floor, summary.describe()
    assert close, f"{per_request:.2f} upstream calls per request, expected {expected:.2f}"


def window_violations(answered: list[Call]) -> list[Call]:
    """Calls that reached a model inside a Retry-After window it had just announced."""
    bad = []
    windows = [
        (c.ended or c.started, c.retry_after) for c in answered if c.status == 429 and c.retry_after
    ]
    for call in answered:
        for sent, retry_after in windows:
            if sent + IN_FLIGHT_GRACE_S < call.started < sent + retry_after:
                bad.append(call)
                break
    return bad


@pytest.mark.parametrize(
    "size",
    sizes(Size(3, 10, timeout_s=1.0), Size(30, 20, timeout_s=5.0)),
)
async def test_429_storm(size: Size, table):
    """A answers 429 (Retry-After) for a while: every request succeeds via B, A is left alone."""
    # timeout_s doubles as the storm's Retry-After; the storm covers the middle of the run.
    retry_after, start, length = size.timeout_s, size.duration_s / 6, size.duration_s * 2 / 3
    scenario = pair.scenario({}, {})
    # A is the cheaper, preferred model: the storm has to move traffic off it.
    cheaper = {"input_usd_per_mtok": 0.5, "output_usd_per_mtok": 1.0}
    async with gateway_stack(scenario, pair.registry(10, {"model-a": cheaper})) as stack:

        def storm() -> None:
            stack.sim.set_model(
                "pa",
                "model-a",
                error_rate={429: 1.0},
                rate_limit={**pair.UNLIMITED, "retry_after_s": retry_after},
            )

        def calm() -> None:
            stack.sim.set_model("pa", "model-a", error_rate={})

        run = await run_load(
            stack.url,
            chat_request(ALIAS),
            concurrency=size.concurrency,
            duration_s=size.duration_s,
            schedule=[(start, storm), (start + length, calm)],
        )
        to_a = stack.sim.calls_to("pa")
    summary = summarize(run.outcomes)
    before_storm = sum(c.started - run.wall_start < run.marks[0] for c in to_a)
    bad = window_violations(to_a)
    limited = sum(c.status == 429 for c in to_a)
    table(
        "429 storm on A",
        f"100 % success; no call to A inside a Retry-After window ({retry_after:.0f} s)",
        f"{summary.describe()}; A served {before_storm} calls before the storm, answered"
        f" {limited} x 429 in it, {len(bad)} calls inside a window",
        summary.success_pct == 100 and not bad,
    )
    assert before_storm > 0, "A took no traffic before the storm: nothing had to move"
    assert limited >= 1, "the storm never reached A: the check above would prove nothing"
    assert summary.success_pct == 100, summary.describe()
    assert bad == []


def in_window(run: LoadRun, begin: float, end: float) -> list[Outcome]:
    """Outcomes of requests started between ``begin`` and ``end`` seconds into the run."""
    return [o for o in run.outcomes if begin <= o.started < end]


def recovery_s(run: LoadRun, healed: float) -> float | None:
    """Seconds from ``healed`` to the start of the first request after which all succeed."""
    after = sorted((o for o in run.outcomes if o.started >= healed), key=lambda o: o.started)
    for index, outcome in enumerate(after):
        if all(o.ok for o in after[index:]):
            return outcome.started - healed
    return None


PROBES_PER_MODEL_PER_COOLDOWN = 2


@pytest.mark.parametrize("size", sizes(Size(4, 10, timeout_s=1.0), Size(30, 20, timeout_s=5.0)))
async def test_total_outage_then_recovery(size: Size, table):
    """Every model down: clean 503/429 fast, few probes; traffic returns within one cooldown."""
    cooldown = size.timeout_s  # doubles as the configured provider and model cooldown
    down, healed = size.duration_s / 5, size.duration_s * 3 / 5
    health = {
        "model_cooldown_s": cooldown,
        "model_cooldown_max_s": cooldown,
        "provider_cooldown_s": cooldown,
        "provider_cooldown_max_s": cooldown,
    }
    scenario = pair.scenario({}, {})
    async with gateway_stack(scenario, pair.registry(10), settings={"health": health}) as stack:

        def set_all(error_rate: dict[int, float]) -> None:
            stack.sim.set_model("pa", "model-a", error_rate=error_rate)
            stack.sim.set_model("pb", "model-b", error_rate=error_rate)

        run = await run_load(
            stack.url,
            chat_request(ALIAS),
            concurrency=size.concurrency,
            duration_s=size.duration_s,
            schedule=[(down, lambda: set_all({503: 1.0})), (healed, lambda: set_all({}))],
        )
        upstream = calls(stack.sim)
    down, healed = run.marks  # when the switches really happened
    outage = in_window(run, down + IN_FLIGHT_GRACE_S, healed)
    # A request that outlived the outage may well succeed; any other answer is a clean error.
    unclean = [o for o in outage if not o.ok and (o.status not in (429, 503) or not o.error_type)]
    p99 = percentile([o.latency_s for o in outage], 99)
    steady = [c for c in upstream if down + cooldown <= c.started - run.wall_start < healed]
    probe_limit = (
        PROBES_PER_MODEL_PER_COOLDOWN * 2 * max(1.0, (healed - down - cooldown) / cooldown)
    )
    back = recovery_s(run, healed)
    holds = (
        not unclean
        and p99 < 1.0
        and len(steady) <= probe_limit
        and back is not None
        and back <= cooldown
    )
    statuses = summarize(outage).statuses
    table(
        "total outage, then recovery",
        f"only 503/429 with p99 < 1 s; ≤ {probe_limit:.0f} upstream calls after the first"
        f" cooldown; traffic back within one cooldown ({cooldown:.0f} s)",
        f"outage answers {dict(sorted(statuses.items()))}, p99 {p99 * 1000:.0f} ms;"
        f" {len(steady)} upstream calls; back after "
        + ("never" if back is None else f"{back:.2f} s"),
        holds,
    )
    assert outage, "no request ran during the outage"
    assert not unclean, f"{len(unclean)} outage answers not a clean 503/429: {statuses}"
    assert p99 < 1.0
    assert len(steady) <= probe_limit
    assert back is not None
    assert back <= cooldown


@pytest.mark.parametrize("size", sizes(Size(0, 5), Size(0, 50)))
async def test_only_model_after_broken_stream(size: Size, table):
    """The alias's only model cuts a stream; the very next request to it is still served."""
    scenario = pair.scenario({"tokens_per_second": 0})
    served = 0
    async with gateway_stack(scenario, pair.registry(10)) as stack:
        for _ in range(size.concurrency):
            stack.sim.enqueue("pa", "model-a", drop_after_events=3)
            async with stack.client.post(
                "/v1/chat/completions",
                json={
                    "model": ALIAS,
                    "stream": True,
                    "messages": [{"role": "user", "content": "x"}],
                },
            ) as response:
                await response.read()
            async with stack.client.post(
                "/v1/chat/completions",
                json={"model": ALIAS, "messages": [{"role": "user", "content": "y"}]},
            ) as response:
                served += response.status == 200
    table(
        "the only model after a broken stream",
        "the next request served",
        f"{served} of {size.concurrency} next requests served",
        served == size.concurrency,
    )
    assert served == size.concurrency
