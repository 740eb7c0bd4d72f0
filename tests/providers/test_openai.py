"""The ``openai`` adapter against the simulator's OpenAI wire format on a real port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web
from tests.providers.support import OPENAI_KEY, WEATHER, ask, collect, model, options

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.adapter import join_url
from tokenhub.providers.kinds import ProviderKinds
from tokenhub.providers.openai import OpenAIAdapter, register
from tokenhub.schemas import ProviderConfig
from tokenhub.sim import count_tokens
from tokenhub.types import (
    Message,
    StreamEnd,
    StreamStart,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
)

GPT = model("gpt-4o")


@pytest.fixture
def adapter(make_adapter, fake_clock) -> OpenAIAdapter:
    """An adapter for the simulated OpenAI provider."""
    built = make_adapter("openai")
    assert isinstance(built, OpenAIAdapter)
    return built


def keyed(clock, **extra):
    """Options carrying the right key."""
    return options(clock, api_key=OPENAI_KEY, **extra)


async def drain(handle):
    """Every event of a stream handle."""
    return [event async for event in handle.events()]


async def test_complete_returns_canonical_response(adapter, fake_clock, sim):
    """A plain call returns the text, usage and finish reason, with Bearer auth sent."""
    sim.enqueue("openai", reply="Canonical from OpenAI.")
    result = await adapter.complete(ask(), GPT, keyed(fake_clock))
    assert result.response.message.text() == "Canonical from OpenAI."
    assert result.response.finish_reason == "stop"
    assert result.response.usage.output_tokens == count_tokens("Canonical from OpenAI.")
    assert result.endpoint == sim.base_url("openai")
    assert result.retries == 0
    [received] = sim.received
    assert received.path == "/openai/v1/chat/completions"
    assert received.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert received.body["model"] == "gpt-4o"
    assert "stream" not in received.body


async def test_upstream_model_name_is_sent(adapter, fake_clock, sim):
    """The model's ``upstream_model`` is the name the provider sees."""
    alias = model("fast", upstream_model="gpt-4o-mini")
    result = await adapter.complete(ask(), alias, keyed(fake_clock))
    assert sim.received[0].body["model"] == "gpt-4o-mini"
    assert result.response.model == "gpt-4o-mini"


async def test_complete_ignores_a_stream_flag(adapter, fake_clock, sim):
    """``complete`` sends a non-streaming request even if the canonical one says stream."""
    result = await adapter.complete(ask(stream=True), GPT, keyed(fake_clock))
    assert result.response.message.text()
    assert "stream" not in sim.received[0].body


async def test_stream_yields_canonical_events(adapter, fake_clock, sim):
    """A stream goes StreamStart, text deltas, StreamEnd with usage (include_usage asked)."""
    answer = "Deltas in order, then the end."
    sim.enqueue("openai", reply=answer)
    handle = await adapter.open_stream(ask(), GPT, keyed(fake_clock))
    events = await drain(handle)
    assert isinstance(events[0], StreamStart)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.usage.input_tokens > 0
    assert end.usage.output_tokens == count_tokens(answer)
    body = sim.received[0].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert handle.endpoint == sim.base_url("openai")
    assert adapter.ratelimit is not None


async def test_tool_call_complete(adapter, fake_clock, sim):
    """Tools go out in OpenAI form and a scripted tool call comes back as a ToolCall."""
    request = ask("what is the weather in Paris?", tools=[WEATHER])
    result = await adapter.complete(request, GPT, keyed(fake_clock))
    [call] = result.response.message.tool_calls
    assert call.name == "get_weather"
    assert orjson.loads(call.arguments) == {"city": "Paris"}
    assert call.id.startswith("call_")
    assert result.response.finish_reason == "tool_calls"
    sent = sim.received[0].body["tools"][0]
    assert sent == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": WEATHER.description,
            "parameters": WEATHER.parameters,
        },
    }


async def test_tool_call_streamed(adapter, fake_clock):
    """A streamed tool call arrives as ToolCallStart plus argument deltas that reassemble."""
    request = ask("weather please", tools=[WEATHER])
    events = await drain(await adapter.open_stream(request, GPT, keyed(fake_clock)))
    [start] = [e for e in events if isinstance(e, ToolCallStart)]
    assert (start.index, start.name) == (0, "get_weather")
    arguments = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta))
    assert orjson.loads(arguments) == {"city": "Paris"}
    assert events[-1].finish_reason == "tool_calls"


async def test_tool_results_go_back_in_openai_form(adapter, fake_clock, sim):
    """An assistant tool call and its result render as tool_calls and a tool message."""
    call = ToolCall("call_1", "get_weather", '{"city":"Paris"}')
    history = [
        Message("user", [TextPart("weather?")]),
        Message("assistant", tool_calls=[call]),
        Message("tool", [TextPart("sunny")], tool_call_id="call_1"),
    ]
    request = ask(tools=[WEATHER])
    request.messages = history
    await adapter.complete(request, GPT, keyed(fake_clock))
    sent = sim.received[0].body["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert sent[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


async def test_rate_limit_headers_feed_the_snapshot(adapter, fake_clock):
    """x-ratelimit-* headers (Go-duration resets) land on the result and the adapter."""
    result = await adapter.complete(ask(), GPT, keyed(fake_clock))
    assert result.ratelimit is None  # successes are parsed lazily, on first read
    snapshot = adapter.ratelimit
    assert snapshot is not None
    assert (snapshot.limit_requests, snapshot.remaining_requests) == (50, 49)
    assert snapshot.limit_tokens == 100_000
    assert snapshot.remaining_tokens is not None
    assert snapshot.remaining_tokens < 100_000
    assert snapshot.reset_requests_s is not None
    assert 0 < snapshot.reset_requests_s <= 60
    assert snapshot.observed_at == fake_clock.monotonic()
    assert adapter.ratelimit is snapshot


async def test_wrong_key_is_auth_and_never_echoed(make_adapter, fake_clock):
    """A 401 for a wrong key is ``auth``; the masked key OpenAI echoes is scrubbed."""
    adapter = make_adapter("openai")
    wrong = "sk-wrong-key-9876543210"
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, options(fake_clock, api_key=wrong))
    error = caught.value
    assert error.kind is ErrorKind.AUTH
    assert error.upstream_status == 401
    assert error.provider == "openai"
    assert "Incorrect API key provided" in error.message
    assert "3210" not in error.message
    assert "sk-" not in error.message


async def test_body_echoing_the_key_is_scrubbed(adapter, fake_clock, sim):
    """An upstream message quoting the credential verbatim loses it in ProviderError."""
    sim.enqueue("openai", status=401, message=f"Incorrect API key provided: {OPENAI_KEY}.")
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, keyed(fake_clock))
    assert OPENAI_KEY not in caught.value.message
    assert OPENAI_KEY[3:] not in str(caught.value)
    assert "[redacted]" in caught.value.message


@pytest.mark.parametrize(
    ("enqueue", "kind", "status"),
    [
        ({"error_type": "context_length_exceeded"}, ErrorKind.CONTEXT_OVERFLOW, 400),
        ({"error_type": "max_tokens_too_large"}, ErrorKind.FATAL, 400),
        ({"status": 429}, ErrorKind.RATE_LIMITED, 429),
        ({"status": 500}, ErrorKind.TRANSIENT, 500),
        ({"status": 503}, ErrorKind.TRANSIENT, 503),
        ({"status": 403, "message": "Country not supported"}, ErrorKind.AUTH, 403),
        ({"status": 422, "message": "Unprocessable"}, ErrorKind.FATAL, 422),
        ({"status": 429, "error_type": "insufficient_quota"}, ErrorKind.QUOTA_EXHAUSTED, 429),
    ],
)
async def test_error_classes_from_real_bodies(adapter, fake_clock, sim, enqueue, kind, status):
    """Each OpenAI error body and status maps to its class (no retries asked)."""
    sim.enqueue("openai", **enqueue)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, keyed(fake_clock, max_retries=0))
    assert caught.value.kind is kind
    assert caught.value.upstream_status == status


async def test_real_context_overflow(adapter, fake_clock):
    """A prompt larger than the window gets OpenAI's real 400 and is ``context_overflow``."""
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask("x" * 20_000), GPT, keyed(fake_clock))
    assert caught.value.kind is ErrorKind.CONTEXT_OVERFLOW
    assert "maximum context length is 4000 tokens" in caught.value.message


async def test_unknown_upstream_model_is_model_unavailable(adapter, fake_clock):
    """A 404 model_not_found is ``model_unavailable`` (the router moves on), not retried."""
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), model("gpt-9"), keyed(fake_clock))
    assert caught.value.kind is ErrorKind.MODEL_UNAVAILABLE
    assert caught.value.retries == 0
    assert caught.value.upstream_status == 404


async def test_429_carries_retry_after(adapter, fake_clock, sim):
    """A 429's Retry-After becomes ``retry_after``; the adapter does not retry it."""
    sim.enqueue("openai", status=429, retry_after=7)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, keyed(fake_clock))
    assert caught.value.kind is ErrorKind.RATE_LIMITED
    assert caught.value.retry_after == 7.0
    assert caught.value.retries == 0
    assert len(sim.received) == 1


async def test_stream_refused_before_first_byte(adapter, fake_clock, sim):
    """A stream answered with an error status raises from ``open_stream`` itself."""
    sim.enqueue("openai", status=401)
    with pytest.raises(ProviderError) as caught:
        await adapter.open_stream(ask(), GPT, keyed(fake_clock))
    assert caught.value.kind is ErrorKind.AUTH
    assert adapter.endpoints()[0].in_flight == 0


async def test_error_frame_mid_stream_is_transient(adapter, fake_clock, sim):
    """After the first events, OpenAI's data: {"error"} frame ends the stream as transient."""
    sim.enqueue("openai", fail_after_events=2)
    handle = await adapter.open_stream(ask(), GPT, keyed(fake_clock))
    seen: list[object] = []
    with pytest.raises(ProviderError) as caught:
        await collect(handle, seen)
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert "server_error" in caught.value.message
    assert len([e for e in seen if isinstance(e, TextDelta)]) == 2
    assert adapter.endpoints()[0].in_flight == 0


async def test_dropped_stream_is_transient(adapter, fake_clock, sim):
    """A connection cut mid-stream (no terminator) raises a transient error."""
    sim.enqueue("openai", drop_after_events=1)
    handle = await adapter.open_stream(ask(), GPT, keyed(fake_clock))
    with pytest.raises(ProviderError) as caught:
        await drain(handle)
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.provider == "openai"


async def test_aclose_releases_early(adapter, fake_clock):
    """Closing a stream before its end releases the endpoint slot."""
    handle = await adapter.open_stream(ask(), GPT, keyed(fake_clock))
    assert adapter.endpoints()[0].in_flight == 1
    await handle.aclose()
    await handle.aclose()
    assert adapter.endpoints()[0].in_flight == 0


async def test_list_models(adapter, fake_clock, sim):
    """``list_models`` reads GET {base_url}/models."""
    assert await adapter.list_models(keyed(fake_clock)) == ["gpt-4o", "gpt-4o-mini"]
    assert sim.received[0].path == "/openai/v1/models"


async def test_fourth_vendor_is_configuration(make_adapter, fake_clock, sim):
    """A Groq-like vendor is ``type: openai`` with its base URL and extra headers."""
    headers = {"HTTP-Referer": "https://example.test", "X-Title": "tokenhub"}
    adapter = make_adapter("openai", "groq", headers=headers)
    llama = model("llama-3.3-70b-versatile")
    result = await adapter.complete(ask(), llama, options(fake_clock, api_key="gsk_0123456789ab"))
    assert result.response.message.text()
    [received] = sim.received_by("groq")
    assert received.headers["http-referer"] == "https://example.test"
    assert received.headers["x-title"] == "tokenhub"
    assert received.headers["authorization"] == "Bearer gsk_0123456789ab"


async def test_azure_style_api_key_header_and_query(make_adapter, fake_clock, sim):
    """An ``{api_key}`` header value carries the key instead of Bearer; the query is kept."""
    base = sim.base_url("groq") + "?api-version=2024-10-21"
    adapter = make_adapter("openai", "groq", base_url=base, headers={"api-key": "{api_key}"})
    llama = model("llama-3.3-70b-versatile")
    await adapter.complete(ask(), llama, options(fake_clock, api_key="azure-key-123"))
    [received] = sim.received_by("groq")
    assert received.path == "/groq/v1/chat/completions"
    assert received.headers["api-key"] == "azure-key-123"
    assert "authorization" not in received.headers


async def test_api_key_header_dropped_without_a_key(make_adapter, fake_clock, sim):
    """With no credential, an ``{api_key}`` header is left out rather than sent empty."""
    adapter = make_adapter("openai", "groq", headers={"api-key": "{api_key}", "x-app": "th"})
    await adapter.complete(ask(), model("llama-3.3-70b-versatile"), options(fake_clock))
    [received] = sim.received_by("groq")
    assert "api-key" not in received.headers
    assert "authorization" not in received.headers
    assert received.headers["x-app"] == "th"


def test_join_url_keeps_the_query():
    """Paths join onto the base URL's path and its query string survives."""
    url = join_url("https://res.example.com/openai/deployments/gpt4o/?api-version=1", "/models")
    assert str(url) == "https://res.example.com/openai/deployments/gpt4o/models?api-version=1"


async def test_trace_headers_do_not_replace_the_credential(adapter, fake_clock, sim):
    """Extra headers ride along but cannot override the Authorization header."""
    extra = {"traceparent": "00-abc-def-01", "authorization": "Bearer stolen"}
    await adapter.complete(ask(), GPT, keyed(fake_clock, extra_headers=extra))
    received = sim.received[0].headers
    assert received["traceparent"] == "00-abc-def-01"
    assert received["authorization"] == f"Bearer {OPENAI_KEY}"


def test_register_adds_the_kind():
    """``register`` adds the ``openai`` kind to a registry."""
    kinds = ProviderKinds()
    register(kinds)
    assert kinds.types == ["openai"]


@pytest.fixture
async def flaky_upstream() -> AsyncIterator[str]:
    """A tiny OpenAI-like server whose first stream fails before any chunk, then works."""
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    good = [
        chunk | {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
        chunk | {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    bad = {"error": {"message": "The server had an error", "type": "server_error"}}
    calls: list[int] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        calls.append(1)
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        frames = [bad] if len(calls) == 1 else good
        for frame in frames:
            await response.write(b"data: " + orjson.dumps(frame) + b"\n\n")
        if len(calls) > 1:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        await runner.cleanup()


async def test_error_before_the_first_event_is_retried(flaky_upstream, client, fake_clock, sleeps):
    """An error frame before any event fails ``open_stream`` itself, so it is retried."""
    config = ProviderConfig(id="flaky", type="openai", base_url=flaky_upstream)
    adapter = OpenAIAdapter(config, client, fake_clock, sleep=sleeps)
    handle = await adapter.open_stream(ask(), GPT, options(fake_clock))
    events = [event async for event in handle.events()]
    assert handle.retries == 1
    assert [type(e) for e in events] == [StreamStart, TextDelta, StreamEnd]
    assert len(sleeps.delays) == 1
