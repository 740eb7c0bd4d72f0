"""parse_request for OpenAI Chat Completions bodies: what is accepted and what is rejected."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx2
import openai as openai_sdk
import pytest

from tokenhub.errors import InvalidRequestError
from tokenhub.providers.wire import openai
from tokenhub.types import (
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
        "strict": True,
    },
}

FULL = {
    "model": "gpt-4o",
    "messages": [
        {"role": "developer", "content": "You are terse."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is in this image?"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/a.jpg", "detail": "low"},
                },
            ],
            "name": "alice",
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_abc123",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc123", "content": "18C and sunny"},
    ],
    "tools": [WEATHER_TOOL],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "temperature": 0.2,
    "top_p": 0.9,
    "max_completion_tokens": 256,
    "stop": "END",
    "response_format": {"type": "json_object"},
    "stream": True,
    "stream_options": {"include_usage": True},
    "user": "user-1",
    "n": 1,
    "seed": 42,
    "presence_penalty": -0.5,
    "frequency_penalty": 1.5,
    "reasoning_effort": "low",
    "parallel_tool_calls": False,
    "tokenhub": {"mode": "fast"},
}

BASE: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
    ],
    "tools": [{"type": "function", "function": {"name": "f"}}],
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
    req = openai.parse_request(copy.deepcopy(FULL))
    assert req.model == "gpt-4o"
    assert req.messages == [
        Message("system", [TextPart("You are terse.")]),
        Message(
            "user",
            [TextPart("What is in this image?"), ImagePart("https://example.com/a.jpg", "low")],
            name="alice",
        ),
        Message(
            "assistant", tool_calls=[ToolCall("call_abc123", "get_weather", '{"location":"Paris"}')]
        ),
        Message("tool", [TextPart("18C and sunny")], tool_call_id="call_abc123"),
    ]
    assert req.tools == [
        ToolSpec(
            "get_weather",
            "Get the current weather",
            WEATHER_TOOL["function"]["parameters"],
            strict=True,
        )
    ]
    assert req.tool_choice == ToolChoice("tool", "get_weather")
    assert (req.temperature, req.top_p, req.max_tokens) == (0.2, 0.9, 256)
    assert req.stop == ["END"]
    assert req.response_format == ResponseFormat("json_object")
    assert (req.stream, req.user) == (True, "user-1")
    assert (req.seed, req.presence_penalty, req.frequency_penalty) == (42, -0.5, 1.5)
    assert (req.reasoning_effort, req.parallel_tool_calls) == ("low", False)


def test_include_usage_reads_stream_options():
    """include_usage is true only when the client set stream_options.include_usage."""
    assert openai.include_usage(FULL)
    assert not openai.include_usage(BASE)
    assert not openai.include_usage({"stream_options": {"include_usage": False}})


def test_max_completion_tokens_wins_over_max_tokens():
    """The newer max_completion_tokens is preferred; the legacy max_tokens is the fallback."""
    assert openai.parse_request({**BASE, "max_tokens": 10}).max_tokens == 10
    both = {**BASE, "max_tokens": 10, "max_completion_tokens": 20}
    assert openai.parse_request(both).max_tokens == 20


def test_nulls_mean_absent():
    """Optional fields sent as null are treated as not given."""
    body = {**BASE, "temperature": None, "stop": None, "n": None, "stream_options": None}
    req = openai.parse_request(body)
    assert (req.temperature, req.stop, req.stream) == (None, [], False)


def test_empty_string_content_is_no_parts():
    """An empty string content becomes an empty part list."""
    req = openai.parse_request(patched(("messages", 0, "content"), ""))
    assert req.messages[0].content == []


def test_refusal_part_becomes_text():
    """An assistant refusal part is kept as assistant text."""
    refusal = [{"type": "refusal", "refusal": "I can't help with that."}]
    req = openai.parse_request(patched(("messages", 1, "content"), refusal))
    assert req.messages[1].content == [TextPart("I can't help with that.")]


def test_json_schema_response_format():
    """A json_schema response format keeps name, schema and strict."""
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": {"type": "object"}, "strict": True},
    }
    req = openai.parse_request({**BASE, "response_format": fmt})
    assert req.response_format == ResponseFormat("json_schema", {"type": "object"}, "answer", True)


@pytest.mark.parametrize("mode", ["auto", "none", "required"])
def test_tool_choice_modes(mode):
    """String tool_choice values map to the canonical mode of the same name."""
    assert openai.parse_request({**BASE, "tool_choice": mode}).tool_choice == ToolChoice(mode)


def test_accepts_what_the_official_sdk_sends():
    """The body the openai SDK builds for a tool-and-image conversation parses."""
    sent: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        sent.append(json.loads(request.content))
        return httpx2.Response(400, json=openai.render_error("invalid_request_error", "stop"))

    transport = httpx2.MockTransport(handler)
    client = openai_sdk.OpenAI(
        api_key="k",
        base_url="http://test/v1",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )
    with pytest.raises(openai_sdk.BadRequestError):
        client.chat.completions.create(
            model=FULL["model"],
            messages=FULL["messages"],
            tools=FULL["tools"],
            tool_choice="required",
            stop=["a", "b"],
            max_completion_tokens=5,
            response_format={"type": "text"},
        )
    req = openai.parse_request(sent[0])
    assert [m.role for m in req.messages] == ["system", "user", "assistant", "tool"]
    assert req.tool_choice == ToolChoice("required")


TOOL_CALL = ("messages", 1, "tool_calls", 0)
INVALID = [
    (("model",), DELETE, "model"),
    (("model",), 3, "model"),
    (("messages",), DELETE, "messages"),
    (("messages",), [], "messages"),
    (("messages",), "hi", "messages"),
    (("messages", 0), "hi", "messages[0]"),
    (("messages", 0, "role"), "function", "messages[0].role"),
    (("messages", 0, "content"), 5, "messages[0].content"),
    (("messages", 0, "content"), DELETE, "messages[0].content"),
    (("messages", 0, "content"), [], "messages[0].content"),
    (("messages", 0, "content"), ["hi"], "messages[0].content[0]"),
    (("messages", 0, "content"), [{"type": "audio"}], "messages[0].content[0].type"),
    (("messages", 0, "content"), [{"type": "text"}], "messages[0].content[0].text"),
    (("messages", 0, "content"), [{"type": "image_url"}], "messages[0].content[0].image_url"),
    (
        ("messages", 0, "content"),
        [{"type": "image_url", "image_url": {"url": "ftp://x/a.png"}}],
        "messages[0].content[0].image_url.url",
    ),
    (
        ("messages", 0, "content"),
        [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}],
        "messages[0].content[0].image_url.url",
    ),
    (
        ("messages", 0, "content"),
        [{"type": "image_url", "image_url": {"url": "https://x/a.png", "detail": "ultra"}}],
        "messages[0].content[0].image_url.detail",
    ),
    (("messages", 0, "name"), 5, "messages[0].name"),
    (("messages", 1, "tool_calls"), DELETE, "messages[1].content"),
    (("messages", 1, "tool_calls"), [], "messages[1].tool_calls"),
    (("messages", 1, "content"), [{"type": "image_url"}], "messages[1].content[0].type"),
    ((*TOOL_CALL, "type"), "custom", "messages[1].tool_calls[0].type"),
    ((*TOOL_CALL, "id"), DELETE, "messages[1].tool_calls[0].id"),
    ((*TOOL_CALL, "function"), None, "messages[1].tool_calls[0].function"),
    ((*TOOL_CALL, "function", "name"), DELETE, "messages[1].tool_calls[0].function.name"),
    ((*TOOL_CALL, "function", "arguments"), {}, "messages[1].tool_calls[0].function.arguments"),
    (("messages", 2, "tool_call_id"), DELETE, "messages[2].tool_call_id"),
    (("messages", 2, "tool_call_id"), "call_9", "messages[2].tool_call_id"),
    (("messages", 2, "content"), [{"type": "image_url"}], "messages[2].content[0].type"),
    (("messages", 2), {"role": "user", "content": "?"}, "messages[1].tool_calls"),
    (("messages", 1), {"role": "assistant", "content": "x"}, "messages[2].role"),
    (
        ("messages",),
        [{"role": "system", "content": [{"type": "image_url"}]}],
        "messages[0].content[0].type",
    ),
    (("temperature",), 2.5, "temperature"),
    (("temperature",), "hot", "temperature"),
    (("temperature",), True, "temperature"),
    (("top_p",), 1.5, "top_p"),
    (("max_tokens",), 0, "max_tokens"),
    (("max_completion_tokens",), 1.5, "max_completion_tokens"),
    (("stop",), ["a", "b", "c", "d", "e"], "stop"),
    (("stop",), [1], "stop[0]"),
    (("stop",), 3, "stop"),
    (("n",), 2, "n"),
    (("n",), "one", "n"),
    (("stream",), "yes", "stream"),
    (("seed",), 1.5, "seed"),
    (("presence_penalty",), -2.5, "presence_penalty"),
    (("frequency_penalty",), "high", "frequency_penalty"),
    (("reasoning_effort",), "", "reasoning_effort"),
    (("parallel_tool_calls",), "no", "parallel_tool_calls"),
    (("stream_options",), {"include_usage": True}, "stream_options"),
    (("user",), 5, "user"),
    (("tools",), {}, "tools"),
    (("tools", 0, "type"), "web_search", "tools[0].type"),
    (("tools", 0, "function"), DELETE, "tools[0].function"),
    (("tools", 0, "function", "name"), "get weather", "tools[0].function.name"),
    (("tools", 0, "function", "name"), "x" * 65, "tools[0].function.name"),
    (("tools", 0, "function", "description"), 1, "tools[0].function.description"),
    (("tools", 0, "function", "parameters"), [], "tools[0].function.parameters"),
    (("tools", 0, "function", "strict"), "yes", "tools[0].function.strict"),
    (("tool_choice",), "sometimes", "tool_choice"),
    (("tool_choice",), {"type": "function"}, "tool_choice.function"),
    (("tool_choice",), {"type": "tool", "name": "f"}, "tool_choice.type"),
    (("tool_choice",), {"type": "function", "function": {}}, "tool_choice.function.name"),
    (("response_format",), {"type": "xml"}, "response_format.type"),
    (("response_format",), "json", "response_format"),
    (("response_format",), {"type": "json_schema"}, "response_format.json_schema"),
    (
        ("response_format",),
        {"type": "json_schema", "json_schema": {"name": "a b"}},
        "response_format.json_schema.name",
    ),
    (
        ("response_format",),
        {"type": "json_schema", "json_schema": {"name": "a", "schema": "{}"}},
        "response_format.json_schema.schema",
    ),
    (
        ("response_format",),
        {"type": "json_schema", "json_schema": {"name": "a", "strict": 1}},
        "response_format.json_schema.strict",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "param"), INVALID, ids=[c[2] + "-" + repr(c[1])[:20] for c in INVALID]
)
def test_invalid_field_is_named(path, value, param):
    """Each invalid field is rejected with InvalidRequestError naming exactly that field."""
    body = patched(path, value)
    if path == ("stream_options",):
        body.pop("stream", None)
    with pytest.raises(InvalidRequestError) as caught:
        openai.parse_request(body)
    assert caught.value.param == param


def test_tool_choice_needs_tools():
    """tool_choice without tools is rejected, as OpenAI does."""
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "auto"}
    with pytest.raises(InvalidRequestError) as caught:
        openai.parse_request(body)
    assert caught.value.param == "tool_choice"


def test_body_must_be_an_object():
    """A JSON body that is not an object is rejected."""
    with pytest.raises(InvalidRequestError) as caught:
        openai.parse_request([])
    assert caught.value.param == "body"


# Fields carried across formats, and parts accepted without a canonical form.


def test_top_k_and_service_tier_are_read():
    """VLLM's top_k and service_tier reach canonical; top_k -1 (off) is no top_k."""
    req = openai.parse_request({**BASE, "top_k": 20, "service_tier": "flex"})
    assert (req.top_k, req.service_tier) == (20, "flex")
    assert openai.parse_request({**BASE, "top_k": -1}).top_k is None


def test_reasoning_content_is_unsigned_thinking_before_the_text():
    """An assistant turn's reasoning_content becomes an unsigned ThinkingPart, first."""
    history = {"role": "assistant", "content": "4", "reasoning_content": "Two and two."}
    body = {**BASE, "messages": [*BASE["messages"], history]}
    turn = openai.parse_request(body).messages[-1]
    assert turn.content == [ThinkingPart("Two and two."), TextPart("4")]


def test_thinking_blocks_are_signed_thinking_and_win_over_reasoning_content():
    """thinking_blocks keep their signatures and redacted data; reasoning_content is then unused."""
    blocks = [
        {"type": "thinking", "thinking": "t", "signature": "sig"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    history = {
        "role": "assistant",
        "content": "4",
        "reasoning_content": "t",
        "thinking_blocks": blocks,
    }
    body = {**BASE, "messages": [*BASE["messages"], history]}
    turn = openai.parse_request(body).messages[-1]
    assert turn.content == [
        ThinkingPart("t", signature="sig"),
        ThinkingPart("", redacted="opaque"),
        TextPart("4"),
    ]


def test_unsigned_thinking_block_is_refused():
    """A thinking block sent back without its signature is a 400 naming it."""
    blocks = [{"type": "thinking", "thinking": "t"}]
    history = {"role": "assistant", "content": "4", "thinking_blocks": blocks}
    with pytest.raises(InvalidRequestError) as caught:
        openai.parse_request({**BASE, "messages": [*BASE["messages"], history]})
    assert caught.value.param == f"messages[{len(BASE['messages'])}].thinking_blocks[0].signature"


def test_audio_and_file_parts_and_custom_tools_are_accepted_and_left_out():
    """input_audio and file parts and custom tools parse; the canonical form keeps the rest."""
    user = {
        "role": "user",
        "content": [
            {"type": "text", "text": "listen"},
            {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}},
            {"type": "file", "file": {"file_id": "file-1"}},
        ],
    }
    custom = {"type": "custom", "custom": {"name": "grep"}}
    req = openai.parse_request({**BASE, "messages": [user], "tools": [WEATHER_TOOL, custom]})
    assert req.messages == [Message("user", [TextPart("listen")])]
    assert [tool.name for tool in req.tools] == ["get_weather"]


def test_allowed_tools_choice():
    """tool_choice allowed_tools keeps its mode and the allowed names."""
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "required",
            "tools": [{"type": "function", "function": {"name": "get_weather"}}],
        },
    }
    req = openai.parse_request({**BASE, "tools": [WEATHER_TOOL], "tool_choice": choice})
    assert req.tool_choice == ToolChoice("required", allowed=["get_weather"])


def test_custom_tool_choice_is_left_out():
    """A tool_choice naming a custom tool has no canonical form (noted across formats)."""
    choice = {"type": "custom", "custom": {"name": "grep"}}
    req = openai.parse_request({**BASE, "tools": [WEATHER_TOOL], "tool_choice": choice})
    assert req.tool_choice is None
