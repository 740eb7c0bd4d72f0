"""parse_request for Responses bodies: fields carried, fields noted, fields refused."""

from __future__ import annotations

from typing import Any

import pytest

from tokenhub.errors import InvalidRequestError
from tokenhub.providers.wire.responses_request import parse_request
from tokenhub.types import Message, ResponseFormat, TextPart, ToolChoice, ToolSpec

TOOL = {"type": "function", "name": "f", "parameters": {"type": "object"}}


def body(**fields: Any) -> dict[str, Any]:
    """A minimal valid body with ``fields`` added."""
    return {"model": "m", "input": "hi", **fields}


def test_minimal_body():
    """A body of model and input alone makes a one-message request with nothing noted."""
    chat = parse_request(body())
    assert (chat.model, chat.messages) == ("m", [Message("user", [TextPart("hi")])])
    assert chat.notes == []


def test_options_are_carried():
    """Sampling, limits, tools, reasoning effort and the JSON schema format map across."""
    chat = parse_request(
        body(
            instructions="be brief",
            max_output_tokens=50,
            temperature=0.2,
            top_p=0.9,
            user="u",
            tools=[TOOL],
            tool_choice="required",
            parallel_tool_calls=False,
            reasoning={"effort": "high"},
            text={"format": {"type": "json_schema", "name": "s", "schema": {"type": "object"}}},
            stream=True,
        )
    )
    assert chat.messages[0] == Message("system", [TextPart("be brief")])
    assert (chat.max_tokens, chat.temperature, chat.top_p, chat.user) == (50, 0.2, 0.9, "u")
    assert chat.tools == [ToolSpec("f", None, {"type": "object"})]
    assert chat.tool_choice == ToolChoice("required")
    assert chat.parallel_tool_calls is False
    assert chat.reasoning_effort == "high"
    assert chat.response_format == ResponseFormat("json_schema", {"type": "object"}, "s")
    assert chat.stream
    assert chat.notes == []


def test_allowed_tools_narrow_the_tools():
    """allowed_tools offers the model only the tools it names."""
    other = {**TOOL, "name": "g"}
    choice = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "g"}]}
    chat = parse_request(body(tools=[TOOL, other], tool_choice=choice))
    assert [t.name for t in chat.tools] == ["g"]
    assert chat.tool_choice == ToolChoice("auto")


def test_uncarried_fields_are_noted():
    """Accepted fields no upstream carries are noted by name, never dropped silently."""
    chat = parse_request(
        body(
            include=["reasoning.encrypted_content", "message.output_text.logprobs"],
            truncation="auto",
            top_logprobs=2,
            reasoning={"summary": "auto"},
            text={"verbosity": "low"},
            brand_new=1,
        )
    )
    noted = {note.field for note in chat.notes}
    assert noted == {
        "include[1]",
        "truncation",
        "top_logprobs",
        "reasoning.summary",
        "text.verbosity",
        "brand_new",
    }


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": [{"type": "file_search"}]}, "tools[0].type"),
        ({"tools": [TOOL], "tool_choice": {"type": "web_search_preview"}}, "tool_choice.type"),
        (
            {"tools": [TOOL], "tool_choice": {"type": "function", "name": "nope"}},
            "tool_choice.name",
        ),
        ({"max_output_tokens": 8}, "max_output_tokens"),
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"metadata": {"a": 1}}, "metadata.a"),
        ({"stream_options": {}}, "stream_options"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"input": None}, "input"),
    ],
)
def test_refused_fields_are_named(fields, param):
    """A malformed or unserved field is a 400 naming it."""
    with pytest.raises(InvalidRequestError) as info:
        parse_request(body(**fields))
    assert info.value.param == param
