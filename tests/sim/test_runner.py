from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import anthropic
import openai
import pytest

from tokenhub.sim import (
    ModelSpec,
    ProviderSpec,
    Scenario,
    Simulator,
    StreamRecord,
    default_scenario,
    runner,
    start_simulator,
)
from tokenhub.testing.polling import async_wait_until

USER = [{"role": "user", "content": "hello there"}]


async def _get(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return await response.json()


async def _post(url: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        return response.status, await response.json()


async def test_base_urls_per_provider_type(sim: Simulator):
    """OpenAI-style providers get {url}/{name}/v1, Anthropic gets {url}/{name}."""
    assert sim.url.startswith("http://127.0.0.1:")
    assert sim.base_url("openai") == f"{sim.url}/openai/v1"
    assert sim.base_url("vllm") == f"{sim.url}/vllm/v1"
    assert sim.base_url("anthropic") == f"{sim.url}/anthropic"


async def test_requests_are_recorded(sim: Simulator, oai: openai.AsyncOpenAI):
    """Every request is recorded with provider, method, path, headers and parsed body."""
    await oai.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=9)
    await _post(f"{sim.url}/vllm/v1/chat/completions", {"model": "x"})
    [first, second] = sim.received
    assert (first.provider, first.method, first.path) == (
        "openai",
        "POST",
        "/openai/v1/chat/completions",
    )
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.body == {"model": "gpt-4o", "messages": USER, "max_tokens": 9}
    assert first.timestamp <= second.timestamp
    assert [r.provider for r in sim.received_by("vllm")] == ["vllm"]


async def test_admin_received_and_reset(sim: Simulator, oai: openai.AsyncOpenAI):
    """GET /_sim/received lists (and filters) requests; POST /_sim/reset clears them."""
    await oai.chat.completions.create(model="gpt-4o", messages=USER)
    everything = await _get(f"{sim.url}/_sim/received")
    assert [r["path"] for r in everything["received"]] == ["/openai/v1/chat/completions"]
    assert (await _get(f"{sim.url}/_sim/received?provider=anthropic")) == {"received": []}
    assert await _post(f"{sim.url}/_sim/reset") == (200, {"status": "ok"})
    assert sim.received == []


async def test_admin_enqueue(sim: Simulator, oai: openai.AsyncOpenAI):
    """POST /_sim/enqueue queues an override for out-of-process tests; bad bodies get 400."""
    status, _ = await _post(f"{sim.url}/_sim/enqueue", {"provider": "openai", "status": 503})
    assert status == 200
    with pytest.raises(openai.InternalServerError):
        await oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert (await _post(f"{sim.url}/_sim/enqueue", {"provider": "nope"}))[0] == 400
    bad = await _post(f"{sim.url}/_sim/enqueue", {"provider": "openai", "colour": "red"})
    assert bad[0] == 400
    assert "colour" in bad[1]["error"]


async def test_admin_health(sim: Simulator):
    """GET /_sim/health answers with the served provider names."""
    assert await _get(f"{sim.url}/_sim/health") == {
        "status": "ok",
        "providers": ["openai", "anthropic", "vllm"],
    }


async def test_enqueue_reply_and_tool_calls(sim: Simulator, claude: anthropic.AsyncAnthropic):
    """An enqueued reply with tool calls answers exactly the next request, then defaults resume."""
    sim.enqueue(
        "anthropic", reply="Sure.", tool_calls=[{"name": "search", "arguments": {"q": "x"}}]
    )
    message = await claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER)
    assert message.content[0].text == "Sure."
    assert message.content[1].input == {"q": "x"}
    again = await claude.messages.create(model="claude-haiku-4-5", max_tokens=50, messages=USER)
    assert again.content[0].text != "Sure."


async def test_enqueue_context_overflow(sim: Simulator, oai: openai.AsyncOpenAI):
    """error_type context_length_exceeded forces the provider's real context error."""
    sim.enqueue("openai", model="gpt-4o", error_type="context_length_exceeded")
    with pytest.raises(openai.BadRequestError) as caught:
        await oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length is 128000 tokens" in caught.value.message


async def test_enqueue_delay(sim: Simulator, oai: openai.AsyncOpenAI):
    """delay_ms holds the answer back by that long."""
    sim.enqueue("openai", delay_ms=150, reply="late")
    started = time.monotonic()
    completion = await oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert time.monotonic() - started >= 0.14
    assert completion.choices[0].message.content == "late"


async def test_reset_replays_the_seeded_sequence(sim: Simulator, oai: openai.AsyncOpenAI):
    """After reset() the same requests produce the same texts and ids again."""

    async def run() -> list[tuple[str, str | None]]:
        out = []
        for _ in range(3):
            c = await oai.chat.completions.create(model="gpt-4o", messages=USER)
            out.append((c.id, c.choices[0].message.content))
        return out

    first = await run()
    sim.reset()
    assert await run() == first


async def test_two_simulators_with_one_seed_agree():
    """Two simulators started from the same seeded scenario answer identically."""
    answers = []
    for _ in range(2):
        async with (
            start_simulator(default_scenario(seed=9)) as sim,
            openai.AsyncOpenAI(base_url=sim.base_url("openai"), api_key="k", max_retries=0) as c,
        ):
            completion = await c.chat.completions.create(model="gpt-4o-mini", messages=USER)
            answers.append((completion.id, completion.choices[0].message.content))
    assert answers[0] == answers[1]


async def test_enqueued_hang_times_out_the_client(sim: Simulator, oai: openai.AsyncOpenAI):
    """A hang accepts the request and never answers; a client timeout fires, the sim goes on."""
    sim.enqueue("openai", hang=True)
    with pytest.raises(openai.APITimeoutError):
        await oai.chat.completions.create(model="gpt-4o", messages=USER, timeout=0.3)
    completion = await oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content


async def test_shutdown_is_prompt_while_a_request_hangs(monkeypatch):
    """Stopping the simulator with a client still waiting on a hang does not wait for it.

    The grace period for in-flight answers is raised to 30 s, so a shutdown that waited
    for the hang would take that long; a prompt one ends far sooner even on a loaded machine.
    """
    monkeypatch.setattr(runner, "SHUTDOWN_TIMEOUT_S", 30.0)
    scenario = Scenario(
        providers=(
            ProviderSpec(name="openai", type="openai", models=(ModelSpec(id="m", hang=True),)),
        )
    )
    async with aiohttp.ClientSession() as http:
        sim_cm = start_simulator(scenario)
        sim = await sim_cm.__aenter__()
        body = {"model": "m", "messages": USER}
        waiting = asyncio.create_task(
            http.post(f"{sim.base_url('openai')}/chat/completions", json=body)
        )
        deadline = time.monotonic() + 5
        while not sim.received and time.monotonic() < deadline:  # noqa: ASYNC110 - poll with a deadline; arrival has no event
            await asyncio.sleep(0.01)
        assert sim.received, "the hanging request never arrived"
        started = time.monotonic()
        await sim_cm.__aexit__(None, None, None)
        assert time.monotonic() - started < 10.0
        with pytest.raises(aiohttp.ClientError):
            await waiting


async def test_record_can_be_bounded():
    """max_received keeps only the newest requests, and 0 keeps none."""
    for limit, kept in ((2, 2), (0, 0)):
        async with start_simulator(default_scenario(), max_received=limit) as sim:
            for _ in range(3):
                await _get(f"{sim.base_url('vllm')}/models")
            assert len(sim.received) == kept


async def test_streams_are_recorded_with_how_they_ended(sim: Simulator, oai: openai.AsyncOpenAI):
    """Each streamed answer is recorded: complete, or dropped by drop_after_events."""
    stream = await oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    [_ async for _ in stream]
    sim.enqueue("openai", drop_after_events=2)
    stream = await oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    with pytest.raises(openai.APIConnectionError):
        [_ async for _ in stream]
    complete, dropped = sim.streams
    assert (complete.provider, complete.model, complete.outcome) == ("openai", "gpt-4o", "complete")
    assert complete.written == complete.total
    assert dropped.outcome == "dropped"
    assert dropped.written == dropped.total < complete.total  # the cut answer, all sent
    served = await _get(f"{sim.url}/_sim/streams")
    assert [s["outcome"] for s in served["streams"]] == ["complete", "dropped"]
    await _post(f"{sim.url}/_sim/reset")
    assert sim.streams == []


async def test_a_stream_its_client_closes_is_recorded_as_client_closed():
    """A paced stream whose client leaves after a few events ends client_closed, cut early."""
    spec = ModelSpec(id="slow", output_tokens=100, tokens_per_second=200)
    scenario = Scenario(providers=(ProviderSpec(name="p", type="openai", models=(spec,)),))
    async with start_simulator(scenario) as paced, aiohttp.ClientSession() as http:
        body = {"model": "slow", "messages": USER, "stream": True}
        response = await http.post(f"{paced.base_url('p')}/chat/completions", json=body)
        await response.content.readuntil(b"\n\n")
        response.close()
        record = paced.streams[0]
        await async_wait_until(_ended(record), what="the stream to end")
    assert record.outcome == "client_closed"
    assert 1 <= record.written < record.total // 2


def _ended(record: StreamRecord) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        return record.outcome != "streaming"

    return probe
