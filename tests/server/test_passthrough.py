"""Streams relayed as the upstream sent them (server/passthrough.py), through the openai SDK."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import anthropic
import openai
import orjson
import pytest

from tokenhub.server.app_keys import EVENTS
from tokenhub.sim import ModelSpec, ProviderSpec, Scenario
from tokenhub.testing.stack import gateway_stack, provider_for

from .routing_stack import model
from .test_observability import scrape, value

SECRET = "upstream-secret-0123456789"
"""The OpenAI provider's key; not credential-shaped, so only exact scrubbing can mask it."""

TRICKY = 'say "model":"gpt-up" and {"model": "gpt-up"} or \\"model\\" gpt-up \\'
"""Content that names the upstream model, JSON-looking member text, quotes and backslashes."""

GAP_S = 0.5
"""Seconds between paced tokens: far longer than any write the gateway makes."""


def scenario() -> Scenario:
    """OpenAI, vLLM and Anthropic upstreams whose model names differ from tokenhub's ids."""
    paced = {"output_tokens": 3, "tokens_per_second": 1 / GAP_S}
    return Scenario(
        seed=11,
        providers=(
            ProviderSpec(
                name="oa",
                type="openai",
                api_key=SECRET,
                models=(
                    ModelSpec(id="gpt-up", output_tokens=12),
                    ModelSpec(id="gpt-slow", **paced),
                ),
            ),
            ProviderSpec(
                name="vl", type="vllm", models=(ModelSpec(id="llama-up", output_tokens=12),)
            ),
            ProviderSpec(
                name="an",
                type="anthropic",
                models=(
                    ModelSpec(id="claude-up", output_tokens=12),
                    ModelSpec(id="claude-slow", **paced),
                ),
            ),
        ),
    )


def registry(sim):
    """Tokenhub ids fast, slow, local, claude and claude-paced over those upstreams."""
    providers = [
        provider_for(sim, "oa", credential="env:OA_KEY", timeout_s=5),
        provider_for(sim, "vl", timeout_s=5),
        provider_for(sim, "an", timeout_s=5),
    ]
    models = [
        model("fast", "oa", "gpt-up"),
        model("slow", "oa", "gpt-slow"),
        model("local", "vl", "llama-up"),
        model("claude", "an", "claude-up"),
        model("claude-paced", "an", "claude-slow"),
    ]
    return providers, models


@pytest.fixture
async def relay_stack(tokenhub_home):
    """The gateway in front of those upstreams, the OpenAI key in its environment."""
    async with gateway_stack(scenario(), registry, environ={"OA_KEY": SECRET}) as stack:
        yield stack


@pytest.fixture
async def sdk(relay_stack):
    """An unmodified AsyncOpenAI client pointed at the gateway (no SDK retries)."""
    async with openai.AsyncOpenAI(
        base_url=f"{relay_stack.url}/v1", api_key="unused", max_retries=0
    ) as client:
        yield client


def ask(model_id: str, **extra) -> dict:
    """A streamed chat request body."""
    return {
        "model": model_id,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        **extra,
    }


async def raw_stream(stack, body: dict) -> bytes:
    """The whole streamed response body, as bytes."""
    async with stack.client.post("/v1/chat/completions", json=body) as response:
        assert response.status == 200
        return await response.read()


def frames(raw: bytes) -> list[dict]:
    """The JSON chunks of an SSE body (``[DONE]`` left out)."""
    datas = [line[6:] for line in raw.split(b"\n") if line.startswith(b"data: ")]
    return [orjson.loads(d) for d in datas if d != b"[DONE]"]


async def streams(stack, path: str) -> float:
    """How many streams took ``path`` so far."""
    return value(await scrape(stack), "tokenhub_streams_total", path=path)


async def last_logged(stack) -> dict:
    """The newest request-log row."""
    async with stack.admin.get("/admin/v1/requests") as response:
        return (await response.json())["data"][0]


async def collect_text(stream) -> tuple[str, set[str], list]:
    """Text, model names and every chunk of an SDK stream."""
    text, models, chunks = "", set(), []
    async for chunk in stream:
        chunks.append(chunk)
        models.add(chunk.model)
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    return text, models, chunks


@pytest.mark.parametrize("model_id", ["fast", "local"])
async def test_openai_format_upstreams_are_relayed(relay_stack, sdk, model_id):
    """OpenAI and vLLM upstreams to an OpenAI client take the passthrough path."""
    before = await streams(relay_stack, "passthrough")
    answer = "Relayed byte for byte."
    relay_stack.sim.enqueue({"fast": "oa", "local": "vl"}[model_id], reply=answer)
    stream = await sdk.chat.completions.create(**ask(model_id))
    text, models, _ = await collect_text(stream)
    assert text == answer
    assert models == {model_id}
    assert await streams(relay_stack, "passthrough") == before + 1


async def test_relayed_frames_are_the_upstreams_own(relay_stack):
    """Relayed chunks keep what translation would drop, such as OpenAI's system_fingerprint."""
    chunks = frames(await raw_stream(relay_stack, ask("fast")))
    assert all(c["system_fingerprint"].startswith("fp_") for c in chunks)
    assert {c["model"] for c in chunks} == {"fast"}


async def test_other_format_pairs_are_translated(relay_stack, sdk):
    """OpenAI client to Anthropic upstream, and Anthropic client to OpenAI upstream, translate."""
    before = await streams(relay_stack, "translated")
    relay_stack.sim.enqueue("an", reply="From Anthropic's events.")
    relay_stack.sim.enqueue("oa", model="gpt-up", reply="From OpenAI's chunks.")
    stream = await sdk.chat.completions.create(**ask("claude"))
    text, models, _ = await collect_text(stream)
    assert text == "From Anthropic's events."
    assert models == {"claude"}
    async with (
        anthropic.AsyncAnthropic(
            base_url=relay_stack.url, api_key="unused", max_retries=0
        ) as claude,
        claude.messages.stream(
            model="fast", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        message = await stream.get_final_message()
    assert message.model == "fast"
    assert message.content[0].text == "From OpenAI's chunks."
    assert await streams(relay_stack, "translated") == before + 2
    assert await streams(relay_stack, "passthrough") == 0


async def test_logged_bodies_are_read_out_of_the_relayed_stream(tokenhub_home):
    """With request_log.log_bodies on, the stream is still relayed and its text logged."""
    settings = {"request_log": {"log_bodies": True}}
    async with gateway_stack(
        scenario(), registry, settings=settings, environ={"OA_KEY": SECRET}
    ) as stack:
        raw = await raw_stream(stack, ask("fast"))
        logged = await last_logged(stack)
        assert await streams(stack, "passthrough") == 1
    deltas = [c["choices"][0]["delta"] for c in frames(raw) if c["choices"]]
    text = "".join(d.get("content") or "" for d in deltas)
    assert logged["body"]["response"]["text"] == text


async def test_model_renamed_but_tricky_content_untouched(relay_stack, sdk):
    """Every chunk names tokenhub's model; content quoting the upstream's name arrives intact."""
    relay_stack.sim.enqueue("oa", reply=TRICKY)
    stream = await sdk.chat.completions.create(**ask("fast"))
    text, models, _ = await collect_text(stream)
    assert text == TRICKY
    assert models == {"fast"}


async def test_usage_chunk_only_when_asked(relay_stack, sdk):
    """Without include_usage no usage reaches the client; with it, the usage chunk does."""
    plain = await raw_stream(relay_stack, ask("fast"))
    assert b'"usage"' not in plain
    assert all(c["choices"] for c in frames(plain))
    stream = await sdk.chat.completions.create(
        **ask("fast"), stream_options={"include_usage": True}
    )
    _, _, chunks = await collect_text(stream)
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.parametrize("include_usage", [False, True])
async def test_usage_and_cost_logged_either_way(relay_stack, include_usage):
    """The request log gets the upstream's usage and its cost whether the client asked or not."""
    await raw_stream(relay_stack, ask("fast", stream_options={"include_usage": include_usage}))
    row = await last_logged(relay_stack)
    assert row["status"] == "ok"
    assert row["model"] == "fast"
    assert row["input_tokens"] > 0
    assert row["output_tokens"] == 12
    # fast costs $1 in and $2 out per million tokens
    assert row["cost_usd"] == pytest.approx((row["input_tokens"] * 1 + 12 * 2) / 1e6)


async def test_tool_call_stream_intact(relay_stack, sdk):
    """A streamed tool call arrives whole: id, name, the argument fragments, the finish reason."""
    relay_stack.sim.enqueue(
        "oa", tool_calls=[{"name": "get_weather", "arguments": {"city": 'Paris "model"'}}]
    )
    stream = await sdk.chat.completions.create(**ask("fast"))
    _, models, chunks = await collect_text(stream)
    calls = [c for ch in chunks if ch.choices for c in ch.choices[0].delta.tool_calls or ()]
    arguments = "".join(c.function.arguments or "" for c in calls)
    assert calls[0].id
    assert calls[0].function.name == "get_weather"
    assert json.loads(arguments) == {"city": 'Paris "model"'}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert models == {"fast"}


async def test_mid_stream_error_ends_stream_scrubbed(relay_stack):
    """An upstream error frame mid-stream reaches the client as an error, scrubbed; health knows."""
    relay_stack.sim.enqueue("oa", fail_after_events=2, message=f"boom (key {SECRET})")
    raw = await raw_stream(relay_stack, ask("fast"))
    assert SECRET.encode() not in raw
    *relayed, error = frames(raw)
    assert len(relayed) == 3  # the role chunk and two tokens
    assert all(c["choices"][0]["delta"]["content"] for c in relayed[1:])
    assert error["error"]["message"] == "stream error server_error: boom (key [redacted])"
    assert relay_stack.gateway.health.model("fast").state == "degraded"
    row = await last_logged(relay_stack)
    assert (row["status"], row["error_type"]) == ("error", "provider_error")


async def test_vllm_error_frame_raises_in_the_sdk(relay_stack, sdk):
    """The in-stream error of vLLM (then its [DONE]) ends the SDK's stream with an APIError."""
    relay_stack.sim.enqueue("vl", fail_after_events=1)
    stream = await sdk.chat.completions.create(**ask("local"))
    with pytest.raises(openai.APIError) as info:
        await collect_text(stream)
    assert "BadRequestError" in str(info.value.message)
    assert relay_stack.gateway.health.model("local").state == "degraded"


async def test_cut_connection_ends_with_error_frame(relay_stack, sdk):
    """An upstream connection cut mid-stream ends the client's stream with an error event."""
    relay_stack.sim.enqueue("oa", drop_after_events=2)
    stream = await sdk.chat.completions.create(**ask("fast"))
    with pytest.raises(openai.APIError) as info:
        await collect_text(stream)
    assert "connection" in str(info.value.message)
    row = await last_logged(relay_stack)
    assert row["status"] == "error"
    assert row["error_type"] == "provider_error"


@pytest.mark.parametrize("model_id", ["slow", "claude-paced"])
async def test_first_token_not_held_back(relay_stack, sdk, model_id):
    """A paced upstream's first token reaches the client at once, not with the next ones.

    The upstream sends a token every GAP_S: each reaches the client on its own, so the
    arrivals keep the upstream's spacing (held-back tokens would arrive together). Only
    gaps are measured, not the time to the first token, so a loaded machine's slower
    start does not matter.
    """
    stream = await sdk.chat.completions.create(**ask(model_id))
    arrivals = [
        time.perf_counter()
        async for chunk in stream
        if chunk.choices and chunk.choices[0].delta.content
    ]
    assert len(arrivals) == 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert min(gaps) >= GAP_S / 2, gaps


async def test_client_leaving_mid_relay_closes_the_upstream(relay_stack):
    """A client gone mid-relay is logged as client_closed and the upstream slot is freed."""
    events = relay_stack.app[EVENTS].subscribe()
    async with relay_stack.client.post("/v1/chat/completions", json=ask("slow")) as response:
        assert await response.content.readany()
        response.close()
    event = await asyncio.wait_for(events.next(), 10)
    events.close()
    assert (event.type, event.data["status"]) == ("routing.decision", "client_closed")
    [endpoint] = relay_stack.gateway.adapter("oa").endpoints()
    assert endpoint.in_flight == 0
