"""parse_input: Responses ``input`` items as canonical messages, and what is refused."""

from __future__ import annotations

import pytest

from tokenhub.errors import InvalidRequestError
from tokenhub.providers.wire.responses_input import parse_input, thinking_payload
from tokenhub.types import ImagePart, Message, TextPart, ThinkingPart, ToolCall

CALL = {"type": "function_call", "call_id": "call_1", "name": "f", "arguments": "{}"}
OUTPUT = {"type": "function_call_output", "call_id": "call_1", "output": "done"}


def test_string_input_is_one_user_message():
    """A string input is the user's one message."""
    assert parse_input("hi") == [Message("user", [TextPart("hi")])]


def test_roles_and_parts():
    """The developer and system roles become system; user parts keep text and images in order."""
    image = {"type": "input_image", "image_url": "https://x/cat.png", "detail": "low"}
    messages = parse_input(
        [
            {"role": "developer", "content": "rules"},
            {"role": "system", "content": [{"type": "input_text", "text": "more"}]},
            {"role": "user", "content": [{"type": "input_text", "text": "see"}, image]},
        ]
    )
    assert messages == [
        Message("system", [TextPart("rules")]),
        Message("system", [TextPart("more")]),
        Message("user", [TextPart("see"), ImagePart("https://x/cat.png", "low")]),
    ]


def test_assistant_items_make_one_turn():
    """Reasoning, an assistant message and function calls in a row are one assistant turn."""
    reasoning = {
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "plan"}],
        "encrypted_content": "sig-1",
    }
    said = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "ok", "annotations": []}],
    }
    messages = parse_input([{"role": "user", "content": "go"}, reasoning, said, CALL, OUTPUT])
    assert messages[1] == Message(
        "assistant",
        [ThinkingPart("plan", signature="sig-1"), TextPart("ok")],
        tool_calls=[ToolCall("call_1", "f", "{}")],
    )
    assert messages[2] == Message("tool", [TextPart("done")], tool_call_id="call_1")


def test_reasoning_after_text_starts_a_new_turn():
    """Thinking comes first in a turn, so reasoning after said text opens the next turn."""
    said = {"role": "assistant", "content": "one"}
    reasoning = {"type": "reasoning", "summary": []}
    messages = parse_input([{"role": "user", "content": "go"}, said, reasoning, said])
    assert [m.role for m in messages] == ["user", "assistant", "assistant"]


def test_redacted_payload_round_trips():
    """A redacted thinking block's payload is marked, and read back as redacted."""
    part = ThinkingPart("", redacted="opaque")
    item = {"type": "reasoning", "summary": [], "encrypted_content": thinking_payload(part)}
    [_, turn] = parse_input([{"role": "user", "content": "go"}, item])
    assert turn.content == [part]


@pytest.mark.parametrize(
    ("items", "param"),
    [
        ([{"type": "item_reference", "id": "msg_1"}], "input[0].type"),
        ([{"type": "web_search_call", "id": "ws"}], "input[0].type"),
        (
            [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}],
            "input[0].content[0].type",
        ),
        (
            [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}],
            "input[0].content[0].file_id",
        ),
        ([{"role": "tool", "content": "x"}], "input[0].role"),
        ([OUTPUT], "input"),
        ([CALL], "input"),
        ([], "input"),
    ],
)
def test_refused_items_name_the_field(items, param):
    """Items the canonical form cannot hold, and unpaired calls, are a 400 naming the field."""
    with pytest.raises(InvalidRequestError) as info:
        parse_input(items)
    assert info.value.param == param
