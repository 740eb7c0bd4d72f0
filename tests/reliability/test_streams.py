"""Many long streams to one provider: all complete, gaps as direct, short requests not starved."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest
import yaml

from tokenhub.sim import ProviderSpec, Scenario
from tokenhub.testing.load import LoadRequest, chat_request, percentile, run_batch, send
from tokenhub.testing.process import start_daemon, start_sim
from tokenhub.testing.stack import gateway_stack, provider_for

from . import pair
from .pair import Size, sizes

SHORT_EVERY_S = 0.02
SHORT_P99_S = 0.05
"""A short request's p99 while the streams run, daemon in its own process (full run)."""
SHORT_P99_IN_PROCESS_S = 0.1
"""The same in the short run, where client, simulator and daemon share one event loop."""
QUEUE_SLACK_S = 1.0
"""A stream through the gateway may end this much later than the slowest direct one."""


def scenario(stream_s: float, tokens_per_second: int) -> Scenario:
    """Provider ``pa``: ``model-a`` streams for ``stream_s`` seconds, ``quick`` answers at once."""
    return Scenario(
        seed=pair.SEED,
        providers=(
            ProviderSpec(
                name="pa",
                type="openai",
                models=(
                    pair.model_spec(
                        "model-a",
                        output_tokens=int(stream_s * tokens_per_second),
                        tokens_per_second=tokens_per_second,
                    ),
                    pair.model_spec("quick", ttft_ms=0),
                ),
            ),
        ),
    )


def models() -> list[dict[str, object]]:
    """The gateway's two models, both on provider ``pa``."""
    return [
        pair.model("model-a", "pa").model_dump(mode="json"),
        pair.model("quick", "pa", aliases=[]).model_dump(mode="json"),
    ]


@asynccontextmanager
async def in_process(stream_s: float, rate: int) -> AsyncIterator[tuple[str, str]]:
    """Simulator and gateway in this process; yields (gateway URL, simulator URL)."""

    def registry(sim):
        gateway_models = [pair.model("model-a", "pa"), pair.model("quick", "pa", aliases=[])]
        return [provider_for(sim, "pa", timeout_s=60)], gateway_models

    async with gateway_stack(scenario(stream_s, rate), registry) as stack:
        yield stack.url, stack.sim.url


def write_yaml(path: Path, data: object) -> Path:
    """Write ``data`` as YAML to ``path`` (creating its folder) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@asynccontextmanager
async def processes(stream_s: float, rate: int, home: Path) -> AsyncIterator[tuple[str, str]]:
    """Simulator and daemon as child processes, so the client here competes with neither."""
    data = scenario(stream_s, rate).model_dump(mode="json", exclude_defaults=True)
    with start_sim(write_yaml(home / "streams-scenario.yaml", data)) as sim:
        provider = {"id": "pa", "type": "openai", "base_url": f"{sim.url}/pa/v1", "timeout_s": 60}
        config = {"providers": [provider], "models": models(), "access_log": False}
        config_file = write_yaml(home / "streams.yaml", config)
        with start_daemon(env={"TOKENHUB_CONFIG": str(config_file)}) as daemon:
            yield daemon.url, sim.url


async def short_requests(url: str, stop: asyncio.Event) -> list[float]:
    """Latencies of one short request every ``SHORT_EVERY_S`` until ``stop`` is set."""
    latencies: list[float] = []
    request = chat_request("quick")
    async with aiohttp.ClientSession(url) as http:
        while not stop.is_set():
            outcome = await send(http, request, time.monotonic(), 10.0)
            latencies.append(outcome.latency_s if outcome.ok else float("inf"))
            await asyncio.sleep(SHORT_EVERY_S)
    return latencies


@pytest.mark.parametrize("size", sizes(Size(1.5, 120, timeout_s=10), Size(10, 1000, timeout_s=10)))
async def test_many_streams_to_one_provider(size: Size, table, tokenhub_home: Path):
    """N concurrent long streams all complete; chunk gaps as direct; short requests fast.

    The full run puts the simulator and the daemon in processes of their own and compares
    chunk gaps with the same streams taken directly from the simulator. The short run, in
    one process and one event loop, reports the gaps without holding them to the 5 ms
    (there the client's own load sets them) and checks that no stream waited for a
    connection.
    """
    streams, stream_s, rate = size.concurrency, size.duration_s, int(size.timeout_s)
    full = streams >= 1000
    setup = processes(stream_s, rate, tokenhub_home) if full else in_process(stream_s, rate)
    async with setup as (gateway, sim):
        direct_request = LoadRequest(
            chat_request("model-a", stream=True).body, path="/pa/v1/chat/completions"
        )
        direct = await run_batch(sim, direct_request, count=streams, timeout_s=stream_s * 6)
        stop = asyncio.Event()
        shorts = asyncio.create_task(short_requests(gateway, stop))
        via = await run_batch(
            gateway, chat_request(pair.ALIAS, stream=True), count=streams, timeout_s=stream_s * 6
        )
        stop.set()
        short_latencies = await shorts
    gap_direct = percentile([g for o in direct.outcomes for g in o.chunk_gaps], 99)
    gap_via = percentile([g for o in via.outcomes for g in o.chunk_gaps], 99)
    short_p99 = percentile(short_latencies, 99)
    # In one process the 120 streaming clients and the simulator share the daemon's event
    # loop, so a short request's p99 (about the slowest of ~60) carries their load too.
    short_limit = SHORT_P99_S if full else SHORT_P99_IN_PROCESS_S
    completed = sum(o.ok for o in via.outcomes)
    # Later than the slowest direct stream: a loaded machine slows both runs alike.
    longest = max((o.latency_s for o in direct.outcomes), default=stream_s)
    waited = sum(o.latency_s > longest + QUEUE_SLACK_S for o in via.outcomes)
    extra_ms = (gap_via - gap_direct) * 1000
    gaps_hold = extra_ms <= 5 or not full
    holds = completed == streams and not waited and gaps_hold and short_p99 < short_limit
    statuses = sorted({o.status for o in via.outcomes})
    table(
        f"{streams} concurrent {stream_s:g} s streams to one provider",
        "all complete; chunk-gap p99 within 5 ms of direct"
        + ("" if full else " (reported only in one process)")
        + f"; a short request meanwhile p99 < {short_limit * 1000:.0f} ms",
        f"{completed} of {streams} complete (statuses {statuses}), {waited} ended over"
        f" {QUEUE_SLACK_S:.0f} s after the slowest direct one;"
        f" chunk-gap p99 {gap_via * 1000:.1f} ms vs {gap_direct * 1000:.1f} ms direct"
        f" ({extra_ms:+.1f} ms);"
        f" short p99 {short_p99 * 1000:.0f} ms over {len(short_latencies)}",
        holds,
    )
    assert completed == streams
    assert waited == 0
    assert gaps_hold, f"chunk-gap p99 {extra_ms:+.1f} ms over direct"
    assert short_p99 < short_limit
