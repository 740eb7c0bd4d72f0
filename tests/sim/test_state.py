"""The call record and run-time behaviour changes that the reliability suite relies on."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import anthropic
import openai
import pytest

from tokenhub.sim import ModelSpec, ProviderSpec, Scenario, Simulator, start_simulator

PACED = Scenario(
    providers=(
        ProviderSpec(
            name="p",
            type="openai",
            models=(ModelSpec(id="slow", output_tokens=40, tokens_per_second=50),),
        ),
    )
)


async def test_calls_record_outcomes(sim: Simulator, oai: openai.AsyncOpenAI):
    """Each answered chat request is a Call with its outcome, status, Retry-After and times."""
    await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "a"}])
    sim.enqueue("openai", status=429, retry_after=7)
    with pytest.raises(openai.RateLimitError):
        await oai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "b"}]
        )
    first, second = sim.calls_to("openai")
    assert (first.model, first.outcome, first.status, first.completed) == (
        "gpt-4o",
        "reply",
        200,
        True,
    )
    assert (second.model, second.outcome, second.status, second.retry_after) == (
        "gpt-4o-mini",
        "fault",
        429,
        7,
    )
    assert first.started <= (first.ended or 0) <= second.started
    assert sim.calls_to("openai", "gpt-4o") == [first]
    async with aiohttp.ClientSession() as http, http.get(f"{sim.url}/_sim/calls") as response:
        listed = (await response.json())["calls"]
    assert [c["status"] for c in listed] == [200, 429]


async def test_stream_left_by_its_client_is_not_completed():
    """A paced stream whose client leaves after two chunks ends as a call not completed."""
    async with start_simulator(PACED) as sim, aiohttp.ClientSession() as http:
        body = {"model": "slow", "stream": True, "messages": [{"role": "user", "content": "x"}]}
        response = await http.post(f"{sim.base_url('p')}/chat/completions", json=body)
        chunks = 0
        async for line in response.content:
            chunks += line.startswith(b"data:")
            if chunks == 2:
                break
        response.close()
        for _ in range(200):
            (call,) = sim.calls_to("p")
            if call.ended is not None:
                break
            await asyncio.sleep(0.01)
        assert call.ended is not None
        assert not call.completed
        assert call.ended - call.started < 0.5  # the 0.8 s stream was cut short


async def test_set_model_switches_faults_at_run_time(sim: Simulator, oai: openai.AsyncOpenAI):
    """set_model makes a healthy model fail every request, and error_rate={} heals it."""
    sim.set_model("openai", "gpt-4o", error_rate={503: 1.0})
    for _ in range(3):
        with pytest.raises(openai.InternalServerError):
            await oai.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "x"}]
            )
    sim.set_model("openai", "gpt-4o", error_rate={})
    await oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "y"}])
    assert [c.status for c in sim.calls_to("openai")] == [503, 503, 503, 200]


async def test_admin_set_model_validates(sim: Simulator):
    """POST /_sim/models applies valid fields and names the bad key or unknown model."""
    url = f"{sim.url}/_sim/models"
    async with aiohttp.ClientSession() as http:
        ok = {"provider": "openai", "model": "gpt-4o", "hang": 0.5}
        async with http.post(url, json=ok) as response:
            assert response.status == 200
            assert (await response.json())["model"]["hang"] == 0.5
        bad = {"provider": "openai", "model": "gpt-4o", "error_rate": {"404": 1}}
        async with http.post(url, json=bad) as response:
            assert response.status == 400
            assert "error_rate" in (await response.json())["error"]
        unknown = {"provider": "openai", "model": "nope"}
        async with http.post(url, json=unknown) as response:
            assert response.status == 400
    assert sim.state.providers["openai"].behaviour.models["gpt-4o"].spec.hang == 0.5


async def test_received_exposes_beta_and_version_headers(sim: Simulator):
    """GET /_sim/received shows anthropic-beta, anthropic-version and openai-beta as sent."""
    betas = "interleaved-thinking-2025-05-14,context-management-2025-06-27"
    async with anthropic.AsyncAnthropic(
        base_url=sim.base_url("anthropic"),
        api_key="x",
        max_retries=0,
        default_headers={"anthropic-beta": betas},
    ) as claude:
        await claude.messages.create(
            model="claude-haiku-4-5", max_tokens=5, messages=[{"role": "user", "content": "a"}]
        )
    async with openai.AsyncOpenAI(
        base_url=sim.base_url("openai"),
        api_key="x",
        max_retries=0,
        default_headers={"OpenAI-Beta": "assistants=v2"},
    ) as oai:
        await oai.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "a"}]
        )
    async with aiohttp.ClientSession() as http, http.get(f"{sim.url}/_sim/received") as got:
        anthropic_seen, openai_seen = [r["headers"] for r in (await got.json())["received"]]
    assert anthropic_seen["anthropic-beta"] == betas
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", anthropic_seen["anthropic-version"])
    assert openai_seen["openai-beta"] == "assistants=v2"
