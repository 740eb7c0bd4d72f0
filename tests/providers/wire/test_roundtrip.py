"""Property tests: canonical -> wire -> canonical is exact, streaming and cross-format included."""

from __future__ import annotations

from typing import Any

import orjson
from anthropic._streaming import SSEDecoder as AnthropicSSE
from hypothesis import given
from openai._streaming import SSEDecoder as OpenAISSE
from tests.providers.wire import strategies as s

from tokenhub.providers.wire import anthropic, openai
from tokenhub.types import (
    ChatRequest,
    Message,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
)


def openai_stream(events: list[StreamEvent]) -> list[StreamEvent]:
    """Encode for an OpenAI client, split with the SDK's SSE parser, decode again."""
    encoder = openai.StreamEncoder(include_usage=True)
    data = b"".join(encoder.encode(e) for e in events)
    decoder = openai.StreamDecoder()
    out: list[StreamEvent] = []
    for sse in OpenAISSE().iter_bytes(iter([data])):
        if sse.data == "[DONE]":
            out.extend(decoder.finish())
            break
        out.extend(decoder.feed(sse.json()))
    return out


def anthropic_stream(events: list[StreamEvent]) -> list[StreamEvent]:
    """Encode for an Anthropic client, split with the SDK's SSE parser, decode again."""
    encoder = anthropic.StreamEncoder()
    data = b"".join(encoder.encode(e) for e in events)
    decoder = anthropic.StreamDecoder()
    out: list[StreamEvent] = []
    for sse in AnthropicSSE().iter_bytes(iter([data])):
        payload = sse.json()
        assert sse.event == payload["type"]
        out.extend(decoder.feed(payload))
    return out + decoder.finish()


def joined(events: list[StreamEvent]) -> tuple[str, dict[int, str]]:
    """The concatenated text and per-tool-call arguments of a stream."""
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    args: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta):
            args[e.index] = args.get(e.index, "") + e.arguments
    return text, args


@s.FAST
@given(s.requests(s.OPENAI))
def test_openai_request_round_trip(req: ChatRequest):
    """A canonical request rendered as an OpenAI body parses back to the same request."""
    assert openai.parse_request(s.as_json(openai.render_request(req, req.model))) == req


@s.FAST
@given(s.requests(s.ANTHROPIC))
def test_anthropic_request_round_trip(req: ChatRequest):
    """A canonical request rendered as an Anthropic body parses back to the same request."""
    assert anthropic.parse_request(s.as_json(anthropic.render_request(req, req.model))) == req


@s.FAST
@given(s.responses(s.OPENAI))
def test_openai_response_round_trip(resp):
    """A canonical response rendered as a chat.completion parses back unchanged."""
    assert openai.parse_response(s.as_json(openai.render_response(resp))) == resp


@s.FAST
@given(s.responses(s.ANTHROPIC))
def test_anthropic_response_round_trip(resp):
    """A canonical response rendered as an Anthropic message parses back unchanged."""
    assert anthropic.parse_response(s.as_json(anthropic.render_response(resp))) == resp


@s.FAST
@given(s.stream_events(s.OPENAI))
def test_openai_stream_round_trip(events: list[StreamEvent]):
    """Events -> OpenAI SSE bytes -> SDK SSE parser -> decoder gives the same events."""
    back = openai_stream(events)
    assert back == events
    assert joined(back) == joined(events)


@s.FAST
@given(s.stream_events(s.ANTHROPIC))
def test_anthropic_stream_round_trip(events: list[StreamEvent]):
    """Events -> Anthropic SSE bytes -> SDK SSE parser -> decoder gives the same events."""
    back = anthropic_stream(events)
    assert back == events
    assert joined(back) == joined(events)


def tool_traffic(messages: list[Message]) -> tuple[list[Any], list[Any]]:
    """Every tool call (id, name, parsed arguments) and tool result (id, text) in order."""
    calls = [
        (c.id, c.name, orjson.loads(c.arguments or "{}")) for m in messages for c in m.tool_calls
    ]
    results = [(m.tool_call_id, m.text()) for m in messages if m.role == "tool"]
    return calls, results


@s.FAST
@given(s.requests(s.OPENAI, object_args=True))
def test_openai_request_rendered_for_anthropic_keeps_tool_traffic(req: ChatRequest):
    """An OpenAI request sent on to Anthropic keeps every tool call and tool result."""
    req.messages.insert(0, Message("user", [s.TextPart("hello")]))
    canonical = openai.parse_request(s.as_json(openai.render_request(req, req.model)))
    body = s.as_json(anthropic.render_request(canonical, "claude"))
    assert tool_traffic(anthropic.parse_request(body).messages) == tool_traffic(canonical.messages)


@s.FAST
@given(s.requests(s.ANTHROPIC))
def test_anthropic_request_rendered_for_openai_keeps_tool_traffic(req: ChatRequest):
    """An Anthropic request sent on to an OpenAI upstream keeps every tool call and result."""
    del req.stop[4:]  # OpenAI takes at most 4 stop sequences; the rest are rendered, not cut
    body = s.as_json(openai.render_request(req, "gpt"))
    assert tool_traffic(openai.parse_request(body).messages) == tool_traffic(req.messages)


@s.FAST
@given(s.sequential_stream_events(s.ANTHROPIC))
def test_anthropic_stream_relayed_to_openai_client(events: list[StreamEvent]):
    """A stream decoded from Anthropic and re-encoded for OpenAI keeps text and arguments."""
    back = openai_stream(anthropic_stream(events))
    assert joined(back) == joined(events)
