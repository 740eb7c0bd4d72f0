"""The load harness: closed-loop clients, recorded outcomes, scheduled actions, figures."""

from __future__ import annotations

from tokenhub.sim import ModelSpec, ProviderSpec, Scenario, start_simulator
from tokenhub.testing.load import (
    LoadRequest,
    Outcome,
    chat_request,
    percentile,
    run_batch,
    run_load,
    summarize,
)

SCENARIO = Scenario(
    providers=(
        ProviderSpec(
            name="p",
            type="openai",
            models=(ModelSpec(id="m", output_tokens=6, tokens_per_second=200),),
        ),
    )
)
PATH = "/p/v1/chat/completions"


def direct(stream: bool = False) -> LoadRequest:
    """A request straight to the simulated provider."""
    return LoadRequest(chat_request("m", stream=stream).body, path=PATH)


async def test_run_load_records_every_request_and_runs_the_schedule():
    """Clients send until the deadline; each answer is an Outcome; actions run on time."""
    async with start_simulator(SCENARIO) as sim:

        def outage() -> None:
            sim.set_model("p", "m", error_rate={503: 1.0})

        run = await run_load(
            sim.url, direct(), concurrency=3, duration_s=0.6, schedule=[(0.3, outage)]
        )
        served = len(sim.calls_to("p"))
    assert len(run.outcomes) == served
    (mark,) = run.marks
    assert 0.3 <= mark < 0.5
    before = [o for o in run.outcomes if o.started + o.latency_s < mark]
    after = [o for o in run.outcomes if o.started > mark]
    assert before
    assert all(o.ok for o in before)
    assert after
    assert all(o.status == 503 and not o.ok for o in after)
    assert all(o.error_type for o in after)


async def test_run_batch_reads_streams_to_the_end():
    """Streamed answers are read to [DONE], with one gap per chunk after the first."""
    async with start_simulator(SCENARIO) as sim:
        run = await run_batch(sim.url, direct(stream=True), count=4)
    assert [o.ok for o in run.outcomes] == [True] * 4
    # role chunk, 6 content chunks, the finish chunk, [DONE]: 9 data lines, 8 gaps
    assert {len(o.chunk_gaps) for o in run.outcomes} == {8}
    assert all(0 < max(o.chunk_gaps) < 1 for o in run.outcomes)


def test_summary_figures():
    """Success share, mean attempts of answers carrying the header, nearest-rank p50/p99."""
    outcomes = [Outcome(0, 0.01 * i, 200, attempts=1 + i % 2, completed=True) for i in range(1, 99)]
    outcomes += [Outcome(0, 5.0, 503, "no_eligible_model", completed=True), Outcome(0, 9.0, 0)]
    summary = summarize(outcomes)
    assert (summary.requests, summary.succeeded) == (100, 98)
    assert summary.success_pct == 98.0
    assert summary.attempts_per_request == 1.5
    assert summary.p50_s == 0.5
    assert summary.p99_s == 5.0
    assert summary.statuses == {200: 98, 503: 1, 0: 1}
    assert summary.error_types == {"no_eligible_model": 1}
    assert percentile([], 99) == 0.0
