"""parse_request for Anthropic Messages bodies: what is accepted and what is rejected."""

from __future__ import annotations

import copy
import json
from typing import Any

import anthropic as anthropic_sdk
import httpx2
import pytest

from tokenhub.errors import InvalidRequestError
from tokenhub.providers.wire import anthropic
from tokenhub.types import (
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Thinking,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"location": {"type": "string"}},
    "required": ["location"],
}

FULL = {
    "model": "claude-test",
    "max_tokens": 1024,
    "system": [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
    "messages": [
        {
            "role": "user",
            "content": [
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
                {"type": "image", "source": {"type": "url", "url": "https://example.com/b.jpg"}},
                {"type": "text", "text": "What's the weather where this was taken?"},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "get_weather",
                    "input": {"location": "Paris"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": "18C",
                    "is_error": False,
                },
                {"type": "text", "text": "Thanks"},
            ],
        },
    ],
    "tools": [
        {"name": "get_weather", "description": "Get weather", "input_schema": WEATHER_SCHEMA}
    ],
    "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
    "temperature": 0.5,
    "top_p": 0.9,
    "top_k": 40,
    "stop_sequences": ["\n\nHuman:"],
    "stream": True,
    "metadata": {"user_id": "u-1"},
}

BASE: dict[str, Any] = {
    "model": "claude-test",
    "max_tokens": 100,
    "messages": [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}],
        },
    ],
    "tools": [{"name": "f", "input_schema": {"type": "object"}}],
}

DELETE = object()


def patched(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A copy of BASE with the value at ``path`` replaced (or deleted)."""
    body = copy.deepcopy(BASE)
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def test_full_request_parses_to_canonical():
    """A real-shaped request with every supported field becomes the expected canonical request."""
    req = anthropic.parse_request(copy.deepcopy(FULL))
    assert req.messages == [
        Message("system", [TextPart("You are terse.", cache_control={"type": "ephemeral"})]),
        Message(
            "user",
            [
                ImagePart("data:image/png;base64,iVBORw0KGgo="),
                ImagePart("https://example.com/b.jpg"),
                TextPart("What's the weather where this was taken?"),
            ],
        ),
        Message(
            "assistant",
            [TextPart("Checking.")],
            tool_calls=[ToolCall("toolu_01", "get_weather", '{"location":"Paris"}')],
        ),
        Message("tool", [TextPart("18C")], tool_call_id="toolu_01"),
        Message("user", [TextPart("Thanks")]),
    ]
    assert req.tools == [ToolSpec("get_weather", "Get weather", WEATHER_SCHEMA)]
    assert req.tool_choice == ToolChoice("required")
    assert (req.max_tokens, req.temperature, req.top_p) == (1024, 0.5, 0.9)
    assert (req.stop, req.stream, req.user) == (["\n\nHuman:"], True, "u-1")


def test_string_system_and_empty_system():
    """A string system is one system message; an empty one adds none."""
    assert anthropic.parse_request({**BASE, "system": "Be kind."}).messages[0] == Message(
        "system", [TextPart("Be kind.")]
    )
    assert anthropic.parse_request({**BASE, "system": ""}).messages[0].role == "user"


def test_turn_order_is_not_enforced():
    """Consecutive same-role turns and a leading assistant turn are accepted (the API merges)."""
    body = {
        "model": "m",
        "max_tokens": 1,
        "messages": [
            {"role": "assistant", "content": "Earlier answer"},
            {"role": "user", "content": "one"},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": ""},
        ],
    }
    roles = [m.role for m in anthropic.parse_request(body).messages]
    assert roles == ["assistant", "user", "user", "assistant"]


def test_system_role_message_is_accepted():
    """A system-role message inside messages (SystemMessageParam) is a system message."""
    body = patched(("messages", 0), {"role": "system", "content": "Be brief."})
    body["messages"].insert(1, {"role": "user", "content": "hi"})
    assert anthropic.parse_request(body).messages[0] == Message("system", [TextPart("Be brief.")])


def test_tool_result_with_blocks_and_error_flag():
    """tool_result content blocks become parts and is_error is kept."""
    result = {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "is_error": True,
        "content": [
            {"type": "text", "text": "failed"},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        ],
    }
    message = anthropic.parse_request(patched(("messages", 2, "content", 0), result)).messages[2]
    assert message == Message(
        "tool",
        [TextPart("failed"), ImagePart("https://x/y.png")],
        tool_call_id="toolu_1",
        is_error=True,
    )


def test_output_config_format_is_a_json_schema_response_format():
    """output_config.format becomes a json_schema response format; effort is ignored."""
    config = {"effort": "low", "format": {"type": "json_schema", "schema": WEATHER_SCHEMA}}
    req = anthropic.parse_request({**BASE, "output_config": config})
    assert req.response_format == ResponseFormat("json_schema", WEATHER_SCHEMA, strict=True)


@pytest.mark.parametrize(
    ("wire", "mode"), [("auto", "auto"), ("any", "required"), ("none", "none")]
)
def test_tool_choice_modes(wire, mode):
    """Anthropic tool_choice types map to canonical modes (any is required)."""
    assert anthropic.parse_request(
        {**BASE, "tool_choice": {"type": wire}}
    ).tool_choice == ToolChoice(mode)


def test_accepts_what_the_official_sdk_sends():
    """The body the anthropic SDK builds for a tool conversation parses."""
    sent: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        return httpx2.Response(400, json=anthropic.render_error("invalid_request_error", "stop"))

    client = anthropic_sdk.Anthropic(
        api_key="k",
        base_url="http://test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
    with pytest.raises(anthropic_sdk.BadRequestError):
        client.messages.create(
            model=FULL["model"],
            max_tokens=10,
            system="Be brief.",
            messages=FULL["messages"],
            tools=FULL["tools"],
            tool_choice={"type": "tool", "name": "get_weather"},
            metadata={"user_id": "u"},
        )
    req = anthropic.parse_request(sent[0])
    assert [m.role for m in req.messages] == ["system", "user", "assistant", "tool", "user"]
    assert req.tool_choice == ToolChoice("tool", "get_weather")


M1 = ("messages", 1, "content", 0)
M2 = ("messages", 2, "content", 0)
IMAGE = ("messages", 0, "content")
INVALID = [
    (("tools", 0, "cache_control"), {"type": "persistent"}, "tools[0].cache_control.type"),
    (
        ("tools", 0, "cache_control"),
        {"type": "ephemeral", "ttl": "2d"},
        "tools[0].cache_control.ttl",
    ),
    (("model",), DELETE, "model"),
    (("model",), "", "model"),
    (("max_tokens",), DELETE, "max_tokens"),
    (("max_tokens",), -1, "max_tokens"),
    (("max_tokens",), "10", "max_tokens"),
    (("messages",), DELETE, "messages"),
    (("messages",), [], "messages"),
    (("messages", 0), [], "messages[0]"),
    (("messages", 0, "role"), "tool", "messages[0].role"),
    (("messages", 0, "content"), "", "messages[0].content"),
    (("messages", 0, "content"), [], "messages[0].content"),
    (("messages", 0, "content"), 5, "messages[0].content"),
    (IMAGE, ["hi"], "messages[0].content[0]"),
    (IMAGE, [{"type": 5}], "messages[0].content[0].type"),
    (IMAGE, [{"type": "text", "text": ""}], "messages[0].content[0].text"),
    (IMAGE, [{"type": "image"}], "messages[0].content[0].source"),
    (IMAGE, [{"type": "image", "source": {"type": 5}}], "messages[0].content[0].source.type"),
    (
        IMAGE,
        [{"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": "AA"}}],
        "messages[0].content[0].source.media_type",
    ),
    (
        IMAGE,
        [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": ""}}],
        "messages[0].content[0].source.data",
    ),
    (IMAGE, [{"type": "image", "source": {"type": "url"}}], "messages[0].content[0].source.url"),
    (("messages", 1, "content"), [{"type": "thinking"}], "messages[1].content[0].thinking"),
    (("messages", 1, "content"), [{"type": 5}], "messages[1].content[0].type"),
    (("messages", 1, "content"), "", "messages[1].content"),
    ((*M1, "id"), DELETE, "messages[1].content[0].id"),
    ((*M1, "name"), 5, "messages[1].content[0].name"),
    ((*M1, "input"), "{}", "messages[1].content[0].input"),
    ((*M2, "tool_use_id"), "toolu_9", "messages[2].content[0].tool_use_id"),
    ((*M2, "is_error"), "yes", "messages[2].content[0].is_error"),
    ((*M2, "content"), [{"type": None}], "messages[2].content[0].content[0].type"),
    ((*M2, "content"), [{"type": "text", "text": ""}], "messages[2].content[0].content[0].text"),
    (
        ("messages", 2, "content"),
        [{"type": "text", "text": "a"}, {"type": "tool_result", "tool_use_id": "toolu_1"}],
        "messages[2].content[1]",
    ),
    (("messages", 2), {"role": "user", "content": "?"}, "messages[1]"),
    (("messages", 2), {"role": "assistant", "content": "?"}, "messages[1]"),
    (
        ("messages", 0),
        {"role": "system", "content": [{"type": "text"}]},
        "messages[0].content[0].text",
    ),
    (("system",), 5, "system"),
    (("system",), [{"type": "image"}], "system[0].type"),
    (("system",), [{"type": "text", "text": ""}], "system[0].text"),
    (("temperature",), 1.5, "temperature"),
    (("top_p",), -0.1, "top_p"),
    (("top_k",), -1, "top_k"),
    (("top_k",), 1.5, "top_k"),
    (("stop_sequences",), "x", "stop_sequences"),
    (("stop_sequences",), [1], "stop_sequences[0]"),
    (("stream",), "yes", "stream"),
    (("metadata",), [], "metadata"),
    (("metadata",), {"user_id": 5}, "metadata.user_id"),
    (("tools",), {}, "tools"),
    (("tools", 0, "type"), 5, "tools[0].type"),
    (("tools", 0, "name"), "a b", "tools[0].name"),
    (("tools", 0, "description"), 5, "tools[0].description"),
    (("tools", 0, "input_schema"), DELETE, "tools[0].input_schema"),
    (("tools", 0, "input_schema"), {"type": "array"}, "tools[0].input_schema.type"),
    (("tool_choice",), "auto", "tool_choice"),
    (("tool_choice",), {"type": "required"}, "tool_choice.type"),
    (("tool_choice",), {"type": "tool"}, "tool_choice.name"),
    (
        ("tool_choice",),
        {"type": "auto", "disable_parallel_tool_use": "x"},
        "tool_choice.disable_parallel_tool_use",
    ),
    (("output_config",), [], "output_config"),
    (("output_config",), {"format": {"type": "json_object"}}, "output_config.format.type"),
    (("output_config",), {"format": {"type": "json_schema"}}, "output_config.format.schema"),
]


@pytest.mark.parametrize(
    ("path", "value", "param"), INVALID, ids=[f"{c[2]}-{c[1]!r}"[:60] for c in INVALID]
)
def test_invalid_field_is_named(path, value, param):
    """Each invalid field is rejected with InvalidRequestError naming exactly that field."""
    with pytest.raises(InvalidRequestError) as caught:
        anthropic.parse_request(patched(path, value))
    assert caught.value.param == param


# Fields and blocks carried across formats, and blocks accepted without a canonical form.


def test_thinking_top_k_effort_and_tier_are_read():
    """thinking, top_k, output_config.effort (max is high) and service_tier reach canonical."""
    body = {
        **BASE,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "top_k": 5,
        "output_config": {"effort": "max"},
        "service_tier": "standard_only",
    }
    req = anthropic.parse_request(body)
    assert req.thinking == Thinking("enabled", 2048)
    assert (req.top_k, req.reasoning_effort, req.service_tier) == (5, "high", "default")


@pytest.mark.parametrize(
    ("thinking", "param"),
    [
        ({"type": "enabled"}, "thinking.budget_tokens"),
        ({"type": "enabled", "budget_tokens": 512}, "thinking.budget_tokens"),
        ({"type": "on"}, "thinking.type"),
        ("enabled", "thinking"),
    ],
)
def test_bad_thinking_is_refused(thinking, param):
    """A thinking config the API would refuse is a 400 naming the field."""
    with pytest.raises(InvalidRequestError) as caught:
        anthropic.parse_request({**BASE, "thinking": thinking})
    assert caught.value.param == param


def test_adaptive_thinking_has_no_budget():
    """Thinking adaptive is read with no budget."""
    req = anthropic.parse_request({**BASE, "thinking": {"type": "adaptive"}})
    assert req.thinking == Thinking("adaptive")


def test_beta_output_format_is_a_json_schema():
    """The beta's top-level output_format is read like output_config.format."""
    fmt = {"type": "json_schema", "schema": {"type": "object"}}
    req = anthropic.parse_request({**BASE, "output_format": fmt})
    assert req.response_format == ResponseFormat("json_schema", {"type": "object"}, strict=True)


def test_signed_thinking_blocks_become_thinking_parts_in_place():
    """Thinking and redacted_thinking blocks are kept, signature and data, before the text."""
    body = copy.deepcopy(BASE)
    body["messages"][1]["content"][:0] = [
        {"type": "thinking", "thinking": "t", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "calling"},
    ]
    turn = anthropic.parse_request(body).messages[1]
    assert turn.content == [
        ThinkingPart("t", signature="sig"),
        ThinkingPart("", redacted="opaque"),
        TextPart("calling"),
    ]
    assert [c.id for c in turn.tool_calls] == ["toolu_1"]


def test_unmodelled_blocks_and_server_tools_are_accepted_and_left_out():
    """document, server-tool blocks, file images and server tools parse; only text remains."""
    body = copy.deepcopy(BASE)
    body["messages"][0]["content"] = [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}},
        {"type": "image", "source": {"type": "file", "file_id": "file_1"}},
        {"type": "text", "text": "summarise"},
    ]
    body["messages"][1]["content"][:0] = [
        {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"q": "x"}},
        {"type": "web_search_tool_result", "tool_use_id": "srv_1", "content": []},
    ]
    body["messages"][2]["content"][0]["content"] = [{"type": "search_result", "source": "s"}]
    body["tools"].append({"type": "web_search_20250305", "name": "web_search", "max_uses": 2})
    req = anthropic.parse_request(body)
    assert req.messages[0] == Message("user", [TextPart("summarise")])
    assert req.messages[1].content == []
    assert req.messages[2].content == []
    assert [tool.name for tool in req.tools] == ["f"]


def test_strict_tools_are_read():
    """A tool's strict flag reaches canonical."""
    body = copy.deepcopy(BASE)
    body["tools"][0]["strict"] = True
    assert anthropic.parse_request(body).tools[0].strict is True
