"""StreamDecoder and StreamEncoder for Anthropic Messages SSE streams."""

from __future__ import annotations

from typing import Any

import anthropic as anthropic_sdk
import httpx2
import orjson
import pytest
from anthropic._streaming import SSEDecoder
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent
from hypothesis import given
from pydantic import TypeAdapter
from tests.providers.wire import strategies as s

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.wire import anthropic
from tokenhub.providers.wire.anthropic_stream import stop_reason
from tokenhub.types import (
    FieldNote,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)

START = {
    "type": "message_start",
    "message": {
        "model": "claude-test",
        "id": "msg_01K2",
        "type": "message",
        "role": "assistant",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {
            "input_tokens": 849,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 100,
            "output_tokens": 10,
        },
    },
}

TOOL_STREAM = [
    START,
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "hm"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "text_delta", "text": "Let me check."},
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_01K", "name": "json", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": ""},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"a": '},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": "1}"},
    },
    {"type": "content_block_stop", "index": 2},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"input_tokens": 849, "output_tokens": 47},
    },
    {"type": "message_stop"},
]


def decode(events: list[dict[str, Any]]) -> list[StreamEvent]:
    """Feed every event, then flush as at the end of the body."""
    decoder = anthropic.StreamDecoder()
    return [e for ev in events for e in decoder.feed(ev)] + decoder.finish()


def test_decode_real_shaped_stream():
    """Thinking, text and tool_use blocks decode; ping is skipped; usage is cumulative."""
    assert decode(TOOL_STREAM) == [
        StreamStart("msg_01K2", "claude-test", 0, 949),
        ThinkingDelta("hm"),
        TextDelta("Let me check."),
        ToolCallStart(0, "toolu_01K", "json"),
        ToolCallDelta(0, '{"a": '),
        ToolCallDelta(0, "1}"),
        StreamEnd("tool_calls", Usage(949, 47, cache_read_tokens=100)),
    ]


def test_stop_sequence_and_unknown_events():
    """A stop_sequence end keeps the sequence; unknown event types are ignored."""
    events = [
        START,
        {"type": "future_event", "data": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"},
            "usage": {"output_tokens": 3},
        },
        {"type": "message_stop"},
    ]
    assert decode(events)[-1] == StreamEnd("stop", Usage(949, 3, cache_read_tokens=100), "END")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"type": "overloaded_error", "message": "Overloaded"}, ErrorKind.TRANSIENT),
        ({"type": "api_error", "message": "Internal"}, ErrorKind.TRANSIENT),
        ({"type": "rate_limit_error", "message": "Slow down"}, ErrorKind.RATE_LIMITED),
        ({"type": "authentication_error", "message": "bad key"}, ErrorKind.AUTH),
        (
            {"type": "invalid_request_error", "message": "prompt is too long"},
            ErrorKind.CONTEXT_OVERFLOW,
        ),
        ({"type": "invalid_request_error", "message": "bad"}, ErrorKind.FATAL),
    ],
)
def test_error_event_raises_classified_provider_error(error, kind):
    """An error event raises a ProviderError of the matching kind."""
    decoder = anthropic.StreamDecoder()
    decoder.feed(START)
    with pytest.raises(ProviderError) as caught:
        decoder.feed({"type": "error", "error": error})
    assert (caught.value.kind, caught.value.message) == (kind, error["message"])


def test_stream_cut_before_message_stop_is_an_error():
    """A body that ends before message_stop raises a transient ProviderError."""
    decoder = anthropic.StreamDecoder()
    decoder.feed(START)
    with pytest.raises(ProviderError) as caught:
        decoder.finish()
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_malformed_event_is_transient_provider_error():
    """An event without its required fields raises a transient ProviderError."""
    with pytest.raises(ProviderError) as caught:
        anthropic.StreamDecoder().feed({"type": "message_start"})
    assert caught.value.kind is ErrorKind.TRANSIENT


def sse(data: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """(event name, data object) pairs, as the SDK's SSE parser splits them."""
    return [(e.event, e.json()) for e in SSEDecoder().iter_bytes(iter([data]))]


def test_encoder_frames_match_anthropic():
    """message_start then ping; blocks open lazily and close before the next; delta then stop."""
    encoder = anthropic.StreamEncoder()
    first = encoder.encode(StreamStart("msg_1", "claude-test", 0, 25))
    assert first.startswith(
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1"'
    )
    assert first.endswith(b'event: ping\ndata: {"type":"ping"}\n\n')
    events = [
        TextDelta("Hi"),
        TextDelta("!"),
        ToolCallStart(0, "toolu_1", "f"),
        ToolCallDelta(0, '{"x":1}'),
        StreamEnd("tool_calls", Usage(25, 9)),
    ]
    frames = sse(b"".join(encoder.encode(e) for e in events))
    assert [name for name, _ in frames] == [
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert frames[0][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    assert frames[4][1]["content_block"] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "f",
        "input": {},
    }
    assert frames[5][1] == {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"x":1}'},
    }
    assert frames[7][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"input_tokens": 25, "output_tokens": 9},
    }


def test_encoder_names_the_stop_sequence():
    """A stop with a stop sequence is sent as stop_reason stop_sequence."""
    encoder = anthropic.StreamEncoder()
    encoder.encode(StreamStart("m", "c", 0, 1))
    frames = sse(encoder.encode(StreamEnd("stop", Usage(1, 1), "###")))
    assert frames[0][1]["delta"] == {"stop_reason": "stop_sequence", "stop_sequence": "###"}


EVENT = TypeAdapter(RawMessageStreamEvent)


@s.FAST
@given(s.sequential_stream_events(s.ANTHROPIC))
def test_sdk_accumulates_every_rendered_stream(events: list[StreamEvent]):
    """Every frame validates as RawMessageStreamEvent; the SDK accumulator rebuilds the message."""
    encoder = anthropic.StreamEncoder()
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for name, data in sse(b"".join(encoder.encode(e) for e in events)):
        if name == "ping":
            continue
        event = EVENT.validate_python(data)
        assert event.type == name
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)
    assert snapshot is not None
    text = "".join(b.text for b in snapshot.content if b.type == "text")
    assert text == "".join(e.text for e in events if isinstance(e, TextDelta))
    tools = [b for b in snapshot.content if b.type == "tool_use"]
    for ordinal, block in enumerate(tools):
        pieces = "".join(
            e.arguments for e in events if isinstance(e, ToolCallDelta) and e.index == ordinal
        )
        assert block.input == orjson.loads(pieces)
    end = events[-1]
    assert isinstance(end, StreamEnd)
    usage = snapshot.usage  # Anthropic's input_tokens excludes the cache reads and writes
    read, write = usage.cache_read_input_tokens or 0, usage.cache_creation_input_tokens or 0
    assert (read, write) == (end.usage.cache_read_tokens, end.usage.cache_write_tokens)
    assert usage.input_tokens + read + write == end.usage.input_tokens
    assert snapshot.stop_reason == stop_reason(end.finish_reason, end.stop_sequence)
    assert snapshot.stop_sequence == end.stop_sequence


def test_official_client_streams_rendered_bytes():
    """The anthropic client's own stream helper reads the encoder's bytes end to end."""
    events = [
        StreamStart("msg_9", "claude-test", 0, 12),
        TextDelta("Hello"),
        ToolCallStart(0, "toolu_9", "get"),
        ToolCallDelta(0, '{"q": "x"}'),
        StreamEnd("tool_calls", Usage(12, 6)),
    ]
    encoder = anthropic.StreamEncoder()
    body = b"".join(encoder.encode(e) for e in events)
    transport = httpx2.MockTransport(
        lambda _: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    client = anthropic_sdk.Anthropic(
        api_key="k", base_url="http://test", http_client=httpx2.Client(transport=transport)
    )
    with client.messages.stream(
        model="claude-test", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[1].input == {"q": "x"}
    assert (final.usage.input_tokens, final.usage.output_tokens) == (12, 6)


# Shaped like Anthropic's streamed extended thinking and web search (docs: "Streaming
# Messages"): a signed thinking block, a redacted one, a server tool and a cited text.
THINKING_STREAM = [
    START,
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "Add."},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "EqQB"},
    },
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "redacted_thinking", "data": "EmwK"},
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {
            "type": "server_tool_use",
            "id": "srvtoolu_1",
            "name": "web_search",
            "input": {},
        },
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"query":"x"}'},
    },
    {"type": "content_block_stop", "index": 2},
    {"type": "content_block_start", "index": 3, "content_block": {"type": "text", "text": ""}},
    {
        "type": "content_block_delta",
        "index": 3,
        "delta": {
            "type": "citations_delta",
            "citation": {
                "type": "web_search_result_location",
                "url": "https://e.x",
                "cited_text": "c",
            },
        },
    },
    {"type": "content_block_delta", "index": 3, "delta": {"type": "text_delta", "text": "4"}},
    {"type": "content_block_stop", "index": 3},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 60, "output_tokens_details": {"thinking_tokens": 40}},
    },
    {"type": "message_stop"},
]


def test_decode_thinking_signatures_and_redactions():
    """Thinking text, its signature and a redacted block decode; server blocks are noted."""
    events = decode(THINKING_STREAM)
    assert events[1:-1] == [
        ThinkingDelta("Add."),
        ThinkingDelta(signature="EqQB"),
        ThinkingDelta(redacted="EmwK"),
        TextDelta("4"),
    ]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.usage.reasoning_tokens == 40
    assert [n.field for n in end.notes] == ["content[2]", "content[3].citations"]


def encode_all(events: list[StreamEvent]) -> bytes:
    """The encoder's bytes for ``events``, after a start."""
    encoder = anthropic.StreamEncoder()
    return b"".join(encoder.encode(e) for e in [StreamStart("m", "c", 0, 1), *events])


def test_encoder_opens_thinking_blocks_and_seals_them():
    """Thinking opens a block (empty signature), a signature seals it, text opens the next."""
    data = encode_all(
        [
            ThinkingDelta("a"),
            ThinkingDelta("b", signature="sig"),
            ThinkingDelta("c"),
            ThinkingDelta(redacted="opaque"),
            TextDelta("hi"),
            StreamEnd("stop", Usage(1, 5, reasoning_tokens=3)),
        ]
    )
    blocks = [d["content_block"] for n, d in sse(data) if n == "content_block_start"]
    assert blocks == [
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": ""},
    ]
    deltas = [d["delta"] for n, d in sse(data) if n == "content_block_delta"]
    assert deltas[:4] == [
        {"type": "thinking_delta", "thinking": "a"},
        {"type": "thinking_delta", "thinking": "b"},
        {"type": "signature_delta", "signature": "sig"},
        {"type": "thinking_delta", "thinking": "c"},
    ]


def test_sdk_accumulates_thinking_and_reads_the_warnings():
    """The SDK rebuilds thinking blocks; the end's notes are comments and a tokenhub member."""
    note = FieldNote("choices[0].logprobs", "token log probabilities, not translated")
    data = encode_all(
        [
            ThinkingDelta("why"),
            TextDelta("hi"),
            StreamEnd("stop", Usage(1, 5, reasoning_tokens=3), notes=[note]),
        ]
    )
    assert b"\n\n: tokenhub-warning choices[0].logprobs: token log probabilities" in data
    snapshot = None
    json_bufs: dict[int, bytes] = {}
    for name, payload in sse(data):
        if name == "message_delta":
            assert payload["tokenhub"] == {"warnings": [str(note)]}
        if name != "ping":
            event = EVENT.validate_python(payload)
            snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=json_bufs)
    assert snapshot is not None
    thinking = snapshot.content[0]
    assert thinking.type == "thinking"
    assert (thinking.thinking, thinking.signature) == ("why", "")
    assert snapshot.usage.output_tokens_details is not None
    assert snapshot.usage.output_tokens_details.thinking_tokens == 3
