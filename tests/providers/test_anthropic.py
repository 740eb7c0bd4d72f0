"""The ``anthropic`` adapter against the simulator's Messages wire format on a real port."""

from __future__ import annotations

import orjson
import pytest
from tests.providers.support import ANTHROPIC_KEY, WEATHER, ask, collect, model, options
from yarl import URL

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.anthropic import AnthropicAdapter, register
from tokenhub.providers.endpoints import Endpoint
from tokenhub.providers.kinds import ProviderKinds
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

HAIKU = model("claude-haiku-4-5")


@pytest.fixture
def adapter(make_adapter) -> AnthropicAdapter:
    """An adapter for the simulated Anthropic provider."""
    built = make_adapter("anthropic")
    assert isinstance(built, AnthropicAdapter)
    return built


def keyed(clock, **extra):
    """Options carrying the right key."""
    return options(clock, api_key=ANTHROPIC_KEY, **extra)


async def drain(handle):
    """Every event of a stream handle."""
    return [event async for event in handle.events()]


async def test_complete_sends_anthropic_headers(adapter, fake_clock, sim):
    """A call goes to /v1/messages with x-api-key and anthropic-version, and parses back."""
    sim.enqueue("anthropic", reply="Canonical from Anthropic.")
    result = await adapter.complete(ask(), HAIKU, keyed(fake_clock))
    assert result.response.message.text() == "Canonical from Anthropic."
    assert result.response.finish_reason == "stop"
    assert result.response.usage.input_tokens > 0
    [received] = sim.received
    assert received.path == "/anthropic/v1/messages"
    assert received.headers["x-api-key"] == ANTHROPIC_KEY
    assert received.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in received.headers


async def test_max_tokens_defaults_to_the_models_output_limit(adapter, fake_clock, sim):
    """A request without max_tokens is sent with the model's max_output_tokens."""
    await adapter.complete(
        ask(), model("claude-haiku-4-5", max_output_tokens=321), keyed(fake_clock)
    )
    await adapter.complete(ask(max_tokens=12), HAIKU, keyed(fake_clock))
    assert [r.body["max_tokens"] for r in sim.received] == [321, 12]


async def test_stream_yields_canonical_events(adapter, fake_clock, sim):
    """A stream goes StreamStart (with input tokens), text deltas, StreamEnd with usage."""
    answer = "Deltas in order, then the end."
    sim.enqueue("anthropic", reply=answer)
    handle = await adapter.open_stream(ask(), HAIKU, keyed(fake_clock))
    events = await drain(handle)
    assert isinstance(events[0], StreamStart)
    assert events[0].input_tokens > 0
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == answer
    assert isinstance(events[-1], StreamEnd)
    assert events[-1].usage.output_tokens == count_tokens(answer)
    assert sim.received[0].body["stream"] is True


async def test_tool_call_complete(adapter, fake_clock, sim):
    """Tools go out as Anthropic tools; a tool_use block comes back as a ToolCall."""
    request = ask("weather in Paris?", tools=[WEATHER])
    result = await adapter.complete(request, HAIKU, keyed(fake_clock))
    [call] = result.response.message.tool_calls
    assert call.name == "get_weather"
    assert call.id.startswith("toolu_01")
    assert orjson.loads(call.arguments) == {"city": "Paris"}
    assert result.response.finish_reason == "tool_calls"
    assert sim.received[0].body["tools"] == [
        {
            "name": "get_weather",
            "description": WEATHER.description,
            "input_schema": WEATHER.parameters,
        }
    ]


async def test_tool_call_streamed(adapter, fake_clock):
    """A streamed tool_use block arrives as ToolCallStart plus input_json deltas."""
    request = ask("weather please", tools=[WEATHER])
    events = await drain(await adapter.open_stream(request, HAIKU, keyed(fake_clock)))
    [start] = [e for e in events if isinstance(e, ToolCallStart)]
    assert (start.index, start.name) == (0, "get_weather")
    arguments = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta))
    assert orjson.loads(arguments) == {"city": "Paris"}
    assert events[-1].finish_reason == "tool_calls"


async def test_tool_results_go_back_as_blocks(adapter, fake_clock, sim):
    """A canonical tool call and result become tool_use and tool_result blocks."""
    call = ToolCall("toolu_1", "get_weather", '{"city":"Paris"}')
    request = ask(tools=[WEATHER])
    request.messages = [
        Message("user", [TextPart("weather?")]),
        Message("assistant", tool_calls=[call]),
        Message("tool", [TextPart("sunny")], tool_call_id="toolu_1"),
    ]
    await adapter.complete(request, HAIKU, keyed(fake_clock))
    sent = sim.received[0].body["messages"]
    assert sent[1]["content"][0] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "get_weather",
        "input": {"city": "Paris"},
    }
    assert sent[2]["content"][0]["type"] == "tool_result"
    assert sent[2]["content"][0]["tool_use_id"] == "toolu_1"


async def test_rate_limit_headers_with_rfc3339_resets(make_adapter, real_clock):
    """anthropic-ratelimit-* headers parse, resets (RFC 3339) as seconds from now."""
    adapter = make_adapter("anthropic", clock=real_clock)
    result = await adapter.complete(ask(), HAIKU, keyed(real_clock))
    assert result.ratelimit is None  # successes are parsed lazily, on first read
    snapshot = adapter.ratelimit
    assert snapshot is not None
    assert (snapshot.limit_requests, snapshot.remaining_requests) == (50, 49)
    assert snapshot.limit_tokens == 100_000
    assert snapshot.reset_requests_s is not None
    assert 0 <= snapshot.reset_requests_s <= 61
    assert adapter.ratelimit is snapshot


@pytest.mark.parametrize(
    ("enqueue", "kind", "status"),
    [
        ({"error_type": "context_length_exceeded"}, ErrorKind.CONTEXT_OVERFLOW, 400),
        ({"error_type": "max_tokens_too_large"}, ErrorKind.FATAL, 400),
        ({"status": 429}, ErrorKind.RATE_LIMITED, 429),
        ({"status": 529}, ErrorKind.TRANSIENT, 529),
        ({"status": 500}, ErrorKind.TRANSIENT, 500),
        ({"status": 403}, ErrorKind.AUTH, 403),
        ({"status": 402, "error_type": "billing_error"}, ErrorKind.QUOTA_EXHAUSTED, 402),
        ({"status": 413}, ErrorKind.FATAL, 413),
        ({"status": 409}, ErrorKind.TRANSIENT, 409),
    ],
)
async def test_error_classes_from_real_bodies(adapter, fake_clock, sim, enqueue, kind, status):
    """Each Anthropic error body and status maps to its class (no retries asked)."""
    sim.enqueue("anthropic", **enqueue)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), HAIKU, keyed(fake_clock, max_retries=0))
    assert caught.value.kind is kind
    assert caught.value.upstream_status == status


async def test_real_prompt_too_long(adapter, fake_clock):
    """A prompt over the window gets "prompt is too long" and is ``context_overflow``."""
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask("x" * 20_000), HAIKU, keyed(fake_clock))
    assert caught.value.kind is ErrorKind.CONTEXT_OVERFLOW
    assert "prompt is too long" in caught.value.message


async def test_input_plus_max_tokens_over_the_limit(adapter, fake_clock):
    """Input plus max_tokens over the window ("exceed context limit") is context_overflow."""
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask("x" * 14_000, max_tokens=900), HAIKU, keyed(fake_clock))
    assert caught.value.kind is ErrorKind.CONTEXT_OVERFLOW
    assert "exceed context limit" in caught.value.message


async def test_wrong_key_is_auth(adapter, fake_clock):
    """A wrong x-api-key is ``auth`` and the message names no key."""
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), HAIKU, options(fake_clock, api_key="sk-ant-wrong-123456"))
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.message == "HTTP 401 authentication_error: invalid x-api-key"


async def test_429_retry_after_not_retried(adapter, fake_clock, sim, sleeps):
    """A 429 carries Retry-After as ``retry_after`` and goes straight back, unslept."""
    sim.enqueue("anthropic", status=429, retry_after=4)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), HAIKU, keyed(fake_clock))
    assert caught.value.retry_after == 4.0
    assert len(sim.received) == 1
    assert sleeps.delays == []


async def test_overloaded_mid_stream_is_transient(adapter, fake_clock, sim):
    """An ``event: error`` overloaded_error after the first events ends the stream transient."""
    sim.enqueue("anthropic", fail_after_events=2)
    handle = await adapter.open_stream(ask(), HAIKU, keyed(fake_clock))
    seen: list[object] = []
    with pytest.raises(ProviderError) as caught:
        await collect(handle, seen)
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert "overloaded_error" in caught.value.message
    assert [type(e) for e in seen] == [StreamStart, TextDelta, TextDelta]
    assert adapter.endpoints()[0].in_flight == 0


async def test_rate_limit_error_mid_stream_is_rate_limited(adapter, fake_clock, sim):
    """An in-stream rate_limit_error keeps its class."""
    sim.enqueue("anthropic", fail_after_events=0, error_type="rate_limit_error")
    handle = await adapter.open_stream(ask(), HAIKU, keyed(fake_clock))
    with pytest.raises(ProviderError) as caught:
        await drain(handle)
    assert caught.value.kind is ErrorKind.RATE_LIMITED


async def test_dropped_stream_is_transient(adapter, fake_clock, sim):
    """A cut before message_stop raises a transient error."""
    sim.enqueue("anthropic", drop_after_events=3)
    handle = await adapter.open_stream(ask(), HAIKU, keyed(fake_clock))
    with pytest.raises(ProviderError) as caught:
        await drain(handle)
    assert caught.value.kind is ErrorKind.TRANSIENT


async def test_list_models_asks_for_a_full_page(adapter, fake_clock, sim):
    """``list_models`` reads GET /v1/models."""
    assert await adapter.list_models(keyed(fake_clock)) == ["claude-haiku-4-5"]
    assert sim.received[0].path == "/anthropic/v1/models"


def test_model_pages_follow_last_id(adapter):
    """Pages ask for the largest page and continue after ``last_id`` while ``has_more``."""
    endpoint = Endpoint("http://h", URL("http://h/v1/messages"), URL("http://h/v1/models"))
    assert str(adapter.page(endpoint, None)) == "http://h/v1/models?limit=1000"
    assert str(adapter.page(endpoint, "m9")) == "http://h/v1/models?limit=1000&after_id=m9"
    assert adapter.next_cursor({"has_more": True, "last_id": "m9"}) == "m9"
    assert adapter.next_cursor({"has_more": False, "last_id": "m9"}) is None


def test_register_adds_the_kind():
    """``register`` adds the ``anthropic`` kind to a registry."""
    kinds = ProviderKinds()
    register(kinds)
    assert kinds.types == ["anthropic"]
