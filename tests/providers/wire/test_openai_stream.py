"""StreamDecoder and StreamEncoder for OpenAI chat.completion.chunk streams."""

from __future__ import annotations

from typing import Any

import httpx2
import openai as openai_sdk
import orjson
import pytest
from hypothesis import given
from openai._streaming import SSEDecoder
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk
from tests.providers.wire import strategies as s

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.wire import openai
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

HEAD = {
    "id": "chatcmpl-1",
    "object": "chat.completion.chunk",
    "created": 1694268190,
    "model": "gpt-4o",
}


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> dict[str, Any]:
    """A real-shaped chunk for choice 0."""
    choices = (
        []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    )
    return {**HEAD, "choices": choices, **extra}


FIRST_TOOL = {
    "index": 0,
    "id": "call_1",
    "type": "function",
    "function": {"name": "get_weather", "arguments": ""},
}
TOOL_STREAM = [
    chunk({"role": "assistant", "content": None, "tool_calls": [FIRST_TOOL]}, usage=None),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"loc'}}]}, usage=None),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ation":"Paris"}'}}]}, usage=None),
    chunk({}, "tool_calls", usage=None),
    chunk(None, usage={"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99}),
]


def decode(chunks: list[dict[str, Any]]) -> list[StreamEvent]:
    """Feed every chunk, then flush as at [DONE]."""
    decoder = openai.StreamDecoder()
    events = [e for c in chunks for e in decoder.feed(c)]
    return events + decoder.finish()


def test_decode_tool_call_stream_with_usage():
    """A tool-call stream with a final usage chunk decodes to start, call, deltas, end."""
    assert decode(TOOL_STREAM) == [
        StreamStart("chatcmpl-1", "gpt-4o", 1694268190),
        ToolCallStart(0, "call_1", "get_weather"),
        ToolCallDelta(0, '{"loc'),
        ToolCallDelta(0, 'ation":"Paris"}'),
        StreamEnd("tool_calls", Usage(82, 17)),
    ]


def test_stream_end_waits_for_the_usage_chunk():
    """The finish chunk emits nothing; the usage chunk after it emits StreamEnd."""
    decoder = openai.StreamDecoder()
    for c in TOOL_STREAM[:-1]:
        assert not any(isinstance(e, StreamEnd) for e in decoder.feed(c))
    assert decoder.feed(TOOL_STREAM[-1]) == [StreamEnd("tool_calls", Usage(82, 17))]
    assert decoder.finish() == []


def test_decode_text_stream_without_usage():
    """Without include_usage the stream ends at [DONE] with zero usage."""
    chunks = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hi"}),
        chunk({}, "length"),
    ]
    assert decode(chunks)[1:] == [TextDelta("Hi"), StreamEnd("length")]


def test_decode_ignores_other_choices_and_reads_refusals():
    """Choices other than 0 are noted, not translated, and a refusal delta is text."""
    other = {**HEAD, "choices": [{"index": 1, "delta": {"content": "no"}, "finish_reason": None}]}
    events = decode([chunk({"refusal": "Sorry"}), other, chunk({}, "stop")])
    note = FieldNote("choices", "choices after the first, not translated")
    assert events[1:] == [TextDelta("Sorry"), StreamEnd("stop", notes=[note])]


def test_tool_call_without_id_on_first_fragment_still_starts():
    """A provider that omits the id still yields ToolCallStart for a new index."""
    chunks = [
        chunk({"tool_calls": [{"index": 0, "function": {"name": "f", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
    ]
    assert decode(chunks)[1:3] == [ToolCallStart(0, "", "f"), ToolCallDelta(0, "{}")]


def test_stream_without_finish_reason_is_an_error():
    """A stream that reaches [DONE] without a finish reason raises a transient ProviderError."""
    decoder = openai.StreamDecoder()
    decoder.feed(chunk({"content": "partial"}))
    with pytest.raises(ProviderError) as caught:
        decoder.finish()
    assert caught.value.kind is ErrorKind.TRANSIENT


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"type": "server_error", "code": None, "message": "boom"}, ErrorKind.TRANSIENT),
        (
            {"type": "requests", "code": "rate_limit_exceeded", "message": "slow"},
            ErrorKind.RATE_LIMITED,
        ),
        (
            {"type": "invalid_request_error", "code": "context_length_exceeded", "message": "long"},
            ErrorKind.CONTEXT_OVERFLOW,
        ),
        (
            {"type": "invalid_request_error", "code": "invalid_api_key", "message": "key"},
            ErrorKind.AUTH,
        ),
    ],
)
def test_error_chunk_raises_classified_provider_error(error, kind):
    """An error object in the stream raises a ProviderError of the matching kind."""
    with pytest.raises(ProviderError) as caught:
        openai.StreamDecoder().feed({"error": error})
    assert (caught.value.kind, caught.value.message) == (kind, error["message"])


def test_malformed_chunk_is_transient_provider_error():
    """A chunk without id or model raises a transient ProviderError."""
    with pytest.raises(ProviderError) as caught:
        openai.StreamDecoder().feed({"choices": []})
    assert caught.value.kind is ErrorKind.TRANSIENT


def frames(data: bytes) -> list[str]:
    """The data payloads of an SSE byte stream, as the SDK's parser splits them."""
    return [sse.data for sse in SSEDecoder().iter_bytes(iter([data]))]


def test_encoder_frames_match_openai():
    """The encoder sends a role chunk, deltas, a finish chunk, a usage chunk and [DONE]."""
    encoder = openai.StreamEncoder(include_usage=True)
    start = encoder.encode(StreamStart("chatcmpl-1", "gpt-4o", 1694268190))
    assert start == (
        b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1694268190,'
        b'"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"",'
        b'"refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
    )
    tool = orjson.loads(frames(encoder.encode(ToolCallStart(0, "call_1", "f")))[0])
    assert tool["choices"][0]["delta"] == {
        "tool_calls": [
            {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "f", "arguments": ""},
            }
        ]
    }
    args = orjson.loads(frames(encoder.encode(ToolCallDelta(0, "{}")))[0])
    assert args["choices"][0]["delta"] == {
        "tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]
    }
    end = frames(encoder.encode(StreamEnd("tool_calls", Usage(5, 7))))
    finish, usage, done = orjson.loads(end[0]), orjson.loads(end[1]), end[2]
    assert finish["choices"][0]["delta"] == {}
    assert finish["choices"][0]["finish_reason"] == "tool_calls"
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    assert done == "[DONE]"


def test_encoder_without_include_usage_sends_no_usage():
    """Without include_usage no chunk has a usage key and no usage chunk is sent."""
    encoder = openai.StreamEncoder()
    data = encoder.encode(StreamStart("c", "m", 1)) + encoder.encode(StreamEnd("stop", Usage(1, 1)))
    payloads = frames(data)
    assert payloads[-1] == "[DONE]"
    assert all("usage" not in orjson.loads(p) for p in payloads[:-1])
    assert len(payloads) == 3


@s.FAST
@given(s.stream_events(s.OPENAI))
def test_sdk_accumulates_every_rendered_stream(events: list[StreamEvent]):
    """Every chunk validates as ChatCompletionChunk; the SDK's accumulator rebuilds the message."""
    encoder = openai.StreamEncoder(include_usage=True)
    state = ChatCompletionStreamState()
    for payload in frames(b"".join(encoder.encode(e) for e in events))[:-1]:
        state.handle_chunk(ChatCompletionChunk.model_validate_json(payload))
    completion = state.current_completion_snapshot  # the final parse rejects length/filter ends
    message = completion.choices[0].message
    assert message.content == "".join(e.text for e in events if isinstance(e, TextDelta))
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    calls = message.tool_calls or []
    assert [(c.id, c.function.name) for c in calls] == [(e.id, e.name) for e in starts]
    for call in calls:
        pieces = [
            e.arguments for e in events if isinstance(e, ToolCallDelta) and e.index == call.index
        ]
        assert call.function.arguments == "".join(pieces)
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert completion.choices[0].finish_reason == end.finish_reason
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == end.usage.input_tokens


def test_official_client_streams_rendered_bytes():
    """The openai client's own stream helper reads the encoder's bytes end to end."""
    events = [
        StreamStart("chatcmpl-9", "gpt-4o", 1700000000),
        TextDelta("Hello"),
        TextDelta(" world"),
        StreamEnd("stop", Usage(4, 2)),
    ]
    encoder = openai.StreamEncoder(include_usage=True)
    body = b"".join(encoder.encode(e) for e in events)
    transport = httpx2.MockTransport(
        lambda _: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    client = openai_sdk.OpenAI(
        api_key="k", base_url="http://test/v1", http_client=httpx2.Client(transport=transport)
    )
    with client.chat.completions.stream(
        model="m", messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello world"
    assert final.usage is not None
    assert final.usage.total_tokens == 6


# vLLM's reasoning stream (docs: "Reasoning Outputs", streaming): reasoning_content deltas
# first, then content deltas.
REASONING_STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "Compare "}),
    chunk({"reasoning_content": "the two."}),
    chunk({"content": "9.8"}),
    chunk({}, "stop"),
]


def test_decode_reasoning_content_as_thinking():
    """reasoning_content deltas (and the newer ``reasoning``) are unsigned ThinkingDeltas."""
    events = decode(
        [*REASONING_STREAM[:2], chunk({"reasoning": "the two."}), *REASONING_STREAM[3:]]
    )
    assert events[1:] == [
        ThinkingDelta("Compare "),
        ThinkingDelta("the two."),
        TextDelta("9.8"),
        StreamEnd("stop"),
    ]


def test_decode_notes_logprobs_once():
    """Token logprobs on the chunks are noted once, on the end."""
    logprobs = {"content": [{"token": "a", "logprob": -1.0, "bytes": [97], "top_logprobs": []}]}
    first = chunk({"content": "a"})
    first["choices"][0]["logprobs"] = logprobs
    events = decode([first, first, chunk({}, "stop")])
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert [n.field for n in end.notes] == ["choices[0].logprobs"]


def test_encoder_writes_thinking_as_reasoning_content():
    """Thinking text is a reasoning_content delta; the SDK keeps it on the chunk's delta."""
    encoder = openai.StreamEncoder()
    encoder.encode(StreamStart("c", "m", 1))
    payload = frames(encoder.encode(ThinkingDelta("hmm")))[0]
    delta = ChatCompletionChunk.model_validate_json(payload).choices[0].delta
    assert (delta.model_extra or {})["reasoning_content"] == "hmm"
    assert encoder.encode(ThinkingDelta(signature="sig")) == b""


def test_encoder_writes_notes_at_the_end():
    """Losses are written as SSE comments and a tokenhub member of the finish chunk."""
    encoder = openai.StreamEncoder()
    encoder.encode(StreamStart("c", "m", 1))
    encoder.encode(ThinkingDelta("x", signature="sig"))
    cited = FieldNote("content[1].citations", "Anthropic citations")
    data = encoder.encode(StreamEnd("stop", Usage(1, 1), "###", notes=[cited]))
    assert data.startswith(b": tokenhub-warning thinking.signature: ")
    assert b"\n: tokenhub-warning content[1].citations: Anthropic citations\n" in data
    finish = orjson.loads(frames(data)[0])
    assert finish["tokenhub"]["warnings"] == [str(n) for n in encoder.notes]
    assert [n.field for n in encoder.notes] == [
        "thinking.signature",
        "content[1].citations",
        "stop_sequence",
    ]


def test_official_client_streams_reasoning_and_warnings():
    """The openai stream helper reads reasoning chunks and skips the warning comments."""
    events = [
        StreamStart("chatcmpl-9", "gpt-4o", 1700000000),
        ThinkingDelta("Think.", signature="sig"),
        TextDelta("Done"),
        StreamEnd("stop", Usage(4, 2, reasoning_tokens=1)),
    ]
    encoder = openai.StreamEncoder(include_usage=True)
    body = b"".join(encoder.encode(e) for e in events)
    transport = httpx2.MockTransport(
        lambda _: httpx2.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    client = openai_sdk.OpenAI(
        api_key="k", base_url="http://test/v1", http_client=httpx2.Client(transport=transport)
    )
    stream = client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    chunks = list(stream)
    reasoning = [
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") for c in chunks[:3]
    ]
    assert reasoning == [None, "Think.", None]
    assert chunks[2].choices[0].delta.content == "Done"
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 1
