"""StreamEncoder: canonical events as Responses SSE events the SDK's stream state accepts."""

from __future__ import annotations

import orjson
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from tokenhub.providers.wire.responses import echo_of
from tokenhub.providers.wire.responses_stream import StreamEncoder
from tokenhub.types import (
    StreamEnd,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)

EVENTS = TypeAdapter(ResponseStreamEvent)


def encoded(*events) -> list[dict]:
    """Every SSE event ``events`` encode to, as JSON; the event line matches the type."""
    encoder = StreamEncoder("resp_t", echo_of({"model": "m", "input": "hi"}))
    raw = b"".join(encoder.encode(e) for e in (StreamStart("up", "m", 1), *events))
    out = []
    for frame in raw.split(b"\n\n")[:-1]:
        event_line, data_line = frame.split(b"\n")
        data = orjson.loads(data_line.removeprefix(b"data: "))
        assert event_line == b"event: " + data["type"].encode()
        out.append(data)
    return out


def assembled(events: list[dict]):
    """The final response the SDK's own stream state builds from ``events``."""
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    for data in events:
        state.handle_event(EVENTS.validate_python(data))
    return state._completed_response


def test_thinking_streams_as_reasoning_summary_with_its_seal():
    """Thinking text is a reasoning item's summary; its signature ends as encrypted_content."""
    events = encoded(
        ThinkingDelta("let me "),
        ThinkingDelta("think"),
        ThinkingDelta(signature="sig-1"),
        TextDelta("answer"),
        StreamEnd("stop", Usage(3, 4)),
    )
    types = [e["type"] for e in events]
    assert types[2:8] == [
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ]
    final = assembled(events)
    reasoning, message = final.output
    assert reasoning.summary[0].text == "let me think"
    assert reasoning.encrypted_content == "sig-1"
    assert message.content[0].text == "answer"


def test_redacted_thinking_is_its_own_item():
    """A redacted block after a sealed one is a second reasoning item with its payload."""
    events = encoded(
        ThinkingDelta("a", signature=None),
        ThinkingDelta(signature="s"),
        ThinkingDelta(redacted="blob"),
        StreamEnd("stop"),
    )
    first, second = assembled(events).output
    assert (first.encrypted_content, second.encrypted_content) == ("s", "redacted:blob")
    assert second.summary == []


def test_parallel_tool_calls_are_items_in_order():
    """Each tool call is a function_call item whose argument deltas assemble in order."""
    events = encoded(
        TextDelta("calling"),
        ToolCallStart(0, "call_a", "f"),
        ToolCallDelta(0, '{"x":'),
        ToolCallDelta(0, "1}"),
        ToolCallStart(1, "call_b", "g"),
        ToolCallDelta(1, "{}"),
        StreamEnd("tool_calls", Usage(1, 2)),
    )
    final = assembled(events)
    assert [item.type for item in final.output] == ["message", "function_call", "function_call"]
    assert [(c.call_id, c.arguments) for c in final.output[1:]] == [
        ("call_a", '{"x":1}'),
        ("call_b", "{}"),
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert final.usage.total_tokens == 3


def test_failed_keeps_the_response_id_and_output_so_far():
    """response.failed names the error and keeps what had been streamed."""
    encoder = StreamEncoder("resp_t", echo_of({}))
    encoder.encode(StreamStart("up", "m"))
    encoder.encode(TextDelta("partial"))
    frame = encoder.failed("provider_error", "upstream broke")
    data = orjson.loads(frame.split(b"data: ", 1)[1])
    assert data["type"] == "response.failed"
    assert data["response"]["id"] == "resp_t"
    assert data["response"]["error"] == {
        "code": "server_error",
        "message": "upstream broke",
        "type": "provider_error",
    }
    assert data["response"]["output"][0]["type"] == "message"
