"""Streams that fail after they started: in-stream errors and dropped connections."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from pydantic import ValidationError

from tokenhub.sim import Override, Simulator, start_simulator
from tokenhub.sim.scenario import parse_scenario

USER = [{"role": "user", "content": "hello there"}]
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


async def _raw_stream(sim: Simulator, provider: str, body: dict[str, Any]) -> list[bytes]:
    """POST a streamed request and return the SSE blocks (split on blank lines)."""
    spec = sim.scenario.provider(provider)
    path = "/v1/messages" if spec.type == "anthropic" else "/v1/chat/completions"
    headers = {"anthropic-version": "2023-06-01"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.url}/{provider}{path}", json=body, headers=headers) as response,
    ):
        assert response.status == 200
        raw = await response.read()
    return [block for block in raw.split(b"\n\n") if block]


def _openai_body(model: str = "gpt-4o") -> dict[str, Any]:
    return {"model": model, "messages": USER, "stream": True}


def _content_chunks(blocks: list[bytes]) -> list[str]:
    texts: list[str] = []
    for block in blocks:
        payload = orjson.loads(block.removeprefix(b"data: "))
        choices = payload.get("choices") or ()
        texts.extend(c["delta"]["content"] for c in choices if c["delta"].get("content"))
    return texts


async def _collect(iterator: AsyncIterator[Any], into: list[Any]) -> None:
    """Append every item of ``iterator`` to ``into`` (kept when iteration raises)."""
    async for item in iterator:
        into.append(item)  # noqa: PERF401 - a comprehension would lose the items on error


async def test_openai_fail_after_sends_error_frame_and_no_done(sim: Simulator):
    """OpenAI: N content chunks, then a data: {"error": {...}} frame and the end, no [DONE]."""
    sim.enqueue("openai", fail_after_events=2)
    blocks = await _raw_stream(sim, "openai", _openai_body())
    *chunks, last = blocks
    assert len(_content_chunks(chunks)) == 2
    error = orjson.loads(last.removeprefix(b"data: "))["error"]
    assert error["type"] == "server_error"
    assert error["message"].startswith("The server had an error while processing your request")
    assert set(error) == {"message", "type", "param", "code"}
    assert b"[DONE]" not in b"".join(blocks)


async def test_openai_sdk_raises_on_the_error_frame(oai: openai.AsyncOpenAI, sim: Simulator):
    """The OpenAI SDK yields the content chunks, then raises APIError with the upstream text."""
    sim.enqueue("openai", fail_after_events=3, message="boom upstream")
    stream = await oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    chunks: list[Any] = []
    with pytest.raises(openai.APIError, match="boom upstream"):
        await _collect(stream, chunks)
    texts = [c.delta.content for chunk in chunks for c in chunk.choices if c.delta.content]
    assert len(texts) == 3


async def test_anthropic_fail_after_sends_error_event(sim: Simulator):
    """Anthropic: message_start and N deltas, then `event: error` with overloaded_error."""
    sim.enqueue("anthropic", fail_after_events=1)
    body = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": USER, "stream": True}
    blocks = await _raw_stream(sim, "anthropic", body)
    names = [b.split(b"\n")[0].removeprefix(b"event: ").decode() for b in blocks]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta", "error"]
    payload = orjson.loads(blocks[-1].split(b"\ndata: ")[1])
    error = {"type": "overloaded_error", "message": "Overloaded"}
    assert payload == {"type": "error", "error": error}


async def test_anthropic_sdk_raises_on_the_error_event(
    claude: anthropic.AsyncAnthropic, sim: Simulator
):
    """The Anthropic SDK raises an API error carrying the overloaded_error body mid-stream."""
    sim.enqueue("anthropic", fail_after_events=2)
    stream = await claude.messages.create(
        model="claude-haiku-4-5", max_tokens=50, messages=USER, stream=True
    )
    events: list[Any] = []
    with pytest.raises(anthropic.APIStatusError, match="overloaded_error"):
        await _collect(stream, events)
    assert [e.type for e in events].count("content_block_delta") == 2


async def test_anthropic_error_type_and_message_override(sim: Simulator):
    """error_type and message replace the in-stream error's type and text."""
    sim.enqueue("anthropic", fail_after_events=0, error_type="api_error", message="went wrong")
    body = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": USER, "stream": True}
    blocks = await _raw_stream(sim, "anthropic", body)
    payload = orjson.loads(blocks[-1].split(b"\ndata: ")[1])
    assert payload["error"] == {"type": "api_error", "message": "went wrong"}
    assert not any(b.startswith(b"event: content_block_delta") for b in blocks)


async def test_vllm_fail_after_sends_flat_error_then_done(sim: Simulator):
    """vLLM: the flat error object (BadRequestError, code 400 by default) then data: [DONE]."""
    sim.enqueue("vllm", fail_after_events=2)
    blocks = await _raw_stream(sim, "vllm", _openai_body(LLAMA))
    assert blocks[-1] == b"data: [DONE]"
    error = orjson.loads(blocks[-2].removeprefix(b"data: "))["error"]
    assert error["object"] == "error"
    assert (error["type"], error["code"], error["param"]) == ("BadRequestError", 400, None)
    assert len(_content_chunks(blocks[:-2])) == 2


async def test_vllm_error_type_sets_the_code(sim: Simulator):
    """A vLLM in-stream error typed InternalServerError carries code 500."""
    sim.enqueue("vllm", fail_after_events=0, error_type="InternalServerError")
    blocks = await _raw_stream(sim, "vllm", _openai_body(LLAMA))
    error = orjson.loads(blocks[-2].removeprefix(b"data: "))["error"]
    assert (error["type"], error["code"]) == ("InternalServerError", 500)


async def test_drop_after_cuts_the_connection(sim: Simulator):
    """drop_after_events sends N content chunks, then the body ends without a terminator."""
    sim.enqueue("openai", drop_after_events=2)
    pieces: list[bytes] = []
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.url}/openai/v1/chat/completions", json=_openai_body()) as response,
    ):
        with pytest.raises(aiohttp.ClientPayloadError):
            await _collect(response.content.iter_any(), pieces)
    received = b"".join(pieces)
    blocks = [b for b in received.split(b"\n\n") if b]
    assert len(_content_chunks(blocks)) == 2
    assert b"[DONE]" not in received
    assert b'finish_reason":"stop' not in received


async def test_cut_beyond_the_content_stops_before_the_finish(sim: Simulator):
    """A count past the reply's length sends every content chunk, then the error, no finish."""
    sim.enqueue("openai", reply="ping pong", fail_after_events=99)
    blocks = await _raw_stream(sim, "openai", _openai_body())
    assert "".join(_content_chunks(blocks[:-1])) == "ping pong"
    assert b'"finish_reason":"stop"' not in b"".join(blocks)
    assert b'"error"' in blocks[-1]


async def test_tool_argument_fragments_count_as_content():
    """Tool-call argument fragments are content events too; the tool call's start is kept."""
    scenario = parse_scenario(
        {"providers": [{"name": "openai", "type": "openai", "models": [{"id": "gpt-4o"}]}]}
    )
    async with start_simulator(scenario) as sim:
        tool = {"name": "get_weather", "arguments": {"city": "Paris"}}
        sim.enqueue("openai", tool_calls=[tool], fail_after_events=2)
        blocks = await _raw_stream(sim, "openai", _openai_body())
    fragments = [b for b in blocks if b'"arguments"' in b]
    assert b'"name":"get_weather"' in fragments[0]
    assert len(fragments) == 3  # the start chunk and two argument fragments
    assert b'"error"' in blocks[-1]


async def test_cut_does_not_touch_a_non_streamed_answer(oai: openai.AsyncOpenAI, sim: Simulator):
    """fail_after_events only affects streams: a plain request gets its whole answer."""
    sim.enqueue("openai", reply="all of it", fail_after_events=0)
    completion = await oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert completion.choices[0].message.content == "all of it"


def test_fail_and_drop_are_exclusive():
    """An override may not both fail and drop a stream."""
    with pytest.raises(ValidationError, match="at most one"):
        Override(fail_after_events=1, drop_after_events=1)


async def test_enqueue_endpoint_accepts_cuts(sim: Simulator):
    """POST /_sim/enqueue takes fail_after_events like enqueue() does."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{sim.url}/_sim/enqueue", json={"provider": "openai", "fail_after_events": 0}
        ) as response,
    ):
        assert response.status == 200
    blocks = await _raw_stream(sim, "openai", _openai_body())
    assert b'"error"' in blocks[-1]


async def test_requests_record_their_connection_peer(sim: Simulator):
    """Each recorded request names its client host:port; one session reuses one connection."""
    async with aiohttp.ClientSession() as http:
        for _ in range(2):
            async with http.get(f"{sim.url}/openai/v1/models") as response:
                await response.read()
    first, second = sim.received
    assert first.peer is not None
    assert first.peer.startswith("127.0.0.1:")
    assert first.peer == second.peer
    assert first.as_dict()["peer"] == first.peer
