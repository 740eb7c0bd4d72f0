"""render_response: canonical answers as Responses ``response`` objects."""

from __future__ import annotations

import openai.types.responses as sdk

from tokenhub.providers.wire.responses import Shell, echo_of, input_items, render_response
from tokenhub.types import (
    ChatResponse,
    FinishReason,
    Message,
    TextPart,
    ThinkingPart,
    ToolCall,
    Usage,
)

SHELL = Shell("resp_abc", 1700000000, "m", echo_of({"model": "m", "input": "hi"}))


def answer(message: Message, finish: FinishReason = "stop") -> ChatResponse:
    """A canonical answer around ``message``."""
    usage = Usage(10, 5, cache_read_tokens=4)
    return ChatResponse("up-1", "m", message, finish, usage)


def test_items_in_order_and_valid_for_the_sdk():
    """Reasoning, then the message, then calls; the SDK's Response model accepts the object."""
    message = Message(
        "assistant",
        [ThinkingPart("plan", signature="sig"), TextPart("hello")],
        tool_calls=[ToolCall("call_1", "f", '{"a":1}')],
    )
    rendered = render_response(answer(message, "tool_calls"), SHELL)
    response = sdk.Response.model_validate(rendered)
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    assert response.output[0].encrypted_content == "sig"
    assert response.output[0].summary[0].text == "plan"
    assert response.output_text == "hello"
    assert response.output[2].call_id == "call_1"
    assert [item.id for item in response.output] == ["rs_abc_0", "msg_abc_1", "fc_abc_2"]
    assert response.status == "completed"


def test_usage_details():
    """Cache reads and writes are input token details; totals add up."""
    rendered = render_response(answer(Message("assistant", [TextPart("x")])), SHELL)
    assert rendered["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 5,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 15,
    }


def test_length_is_incomplete():
    """A length finish is an incomplete response whose message is incomplete too."""
    rendered = render_response(answer(Message("assistant", [TextPart("x")]), "length"), SHELL)
    assert rendered["status"] == "incomplete"
    assert rendered["incomplete_details"] == {"reason": "max_output_tokens"}
    assert rendered["output"][0]["status"] == "incomplete"


def test_input_items_are_typed_and_identified():
    """Input items are listed typed, with content parts and an id each; sent ids are kept."""
    items = input_items(
        [
            {"role": "user", "content": "hi"},
            {"type": "function_call_output", "call_id": "c", "output": "x", "id": "mine"},
        ],
        SHELL,
    )
    assert items[0] == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "hi"}],
        "id": "msg_in_abc_0",
    }
    assert items[1]["id"] == "mine"
    assert input_items("hello", SHELL)[0]["content"] == [{"type": "input_text", "text": "hello"}]
