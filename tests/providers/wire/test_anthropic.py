"""render_request, parse_response/render_response and render_error for the Anthropic format."""

from __future__ import annotations

import anthropic as anthropic_sdk
import httpx2
import pytest
from anthropic.types import Message as SDKMessage
from hypothesis import given
from tests.providers.wire import strategies as s

from tokenhub.errors import ErrorKind, InvalidRequestError, ProviderError
from tokenhub.providers.wire import anthropic
from tokenhub.types import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)

# Shaped like a real tool-use response, including fields tokenhub ignores.
TOOL_USE_MESSAGE = {
    "id": "msg_01Aq9w938a90dw8q",
    "type": "message",
    "role": "assistant",
    "model": "claude-test",
    "content": [
        {"type": "thinking", "thinking": "hm", "signature": "sig"},
        {"type": "text", "text": "I'll check."},
        {"type": "tool_use", "id": "toolu_01A", "name": "get_weather", "input": {"location": "SF"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 12,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 30,
        "output_tokens": 40,
        "service_tier": "standard",
    },
}


def conversation() -> list[Message]:
    """Two system messages, a tool round trip and a follow-up question."""
    return [
        Message("system", [TextPart("Be brief.")]),
        Message("user", [TextPart("Weather?"), ImagePart("data:image/png;base64,AAAA", "low")]),
        Message(
            "assistant", [TextPart("Checking.")], tool_calls=[ToolCall("call_1", "w", '{"c":"P"}')]
        ),
        Message("tool", [TextPart("18C")], tool_call_id="call_1"),
        Message("system", [TextPart("Use Celsius.")]),
        Message("user", [TextPart("And tomorrow?"), ImagePart("https://x/y.png")]),
        Message("user", [TextPart("")]),
    ]


def test_render_request_reshapes_for_anthropic():
    """System messages go top-level, tool results join the next user turn, calls become tool_use."""
    req = ChatRequest(model="alias", messages=conversation())
    body = anthropic.render_request(req, "claude-up")
    assert body["model"] == "claude-up"
    assert body["max_tokens"] == anthropic.DEFAULT_MAX_TOKENS
    assert body["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use Celsius."},
    ]
    png = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather?"}, png]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "w", "input": {"c": "P"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "text", "text": "And tomorrow?"},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
            ],
        },
    ]


def test_render_request_options():
    """Options map to Anthropic fields: clamped temperature, any, metadata, output_config."""
    req = ChatRequest(
        model="m",
        messages=[Message("user", [TextPart("x")])],
        max_tokens=50,
        temperature=1.7,
        top_p=0.5,
        stop=["END"],
        tools=[ToolSpec("f"), ToolSpec("g", "does g", {"type": "object", "properties": {}})],
        tool_choice=ToolChoice("required"),
        response_format=ResponseFormat("json_schema", {"type": "object"}, "n", True),
        stream=True,
        user="u1",
    )
    body = anthropic.render_request(req, "up", default_max_tokens=9)
    assert body == {
        "model": "up",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "x"}],
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        "temperature": 1.0,
        "top_p": 0.5,
        "stop_sequences": ["END"],
        "tools": [
            {"name": "f", "input_schema": {"type": "object", "properties": {}}},
            {
                "name": "g",
                "description": "does g",
                "input_schema": {"type": "object", "properties": {}},
            },
        ],
        "tool_choice": {"type": "any"},
        "metadata": {"user_id": "u1"},
        "stream": True,
    }


def test_parallel_tool_calls_off_becomes_disable_parallel_tool_use():
    """OpenAI's parallel_tool_calls=false is Anthropic's disable_parallel_tool_use, both ways.

    seed, the penalties and reasoning_effort have no Anthropic field and are not sent.
    """
    req = ChatRequest(
        model="m",
        messages=[Message("user", [TextPart("x")])],
        tools=[ToolSpec("f")],
        parallel_tool_calls=False,
        seed=3,
        presence_penalty=1.0,
        reasoning_effort="low",
    )
    body = anthropic.render_request(req, "up")
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert not {"seed", "presence_penalty", "reasoning_effort"} & body.keys()
    assert anthropic.parse_request(body).parallel_tool_calls is False
    named = ChatRequest(
        model="m",
        messages=[Message("user", [TextPart("x")])],
        tools=[ToolSpec("f")],
        tool_choice=ToolChoice("tool", "f"),
        parallel_tool_calls=False,
    )
    assert anthropic.render_request(named, "up")["tool_choice"] == {
        "type": "tool",
        "name": "f",
        "disable_parallel_tool_use": True,
    }


def test_prompt_cache_breakpoints_reach_anthropic():
    """cache_control on system text, message text and tools goes upstream.

    Such a block stays a block (not collapsed to a plain string), so the marker is kept.
    """
    cached = {"type": "ephemeral", "ttl": "1h"}
    req = ChatRequest(
        model="m",
        messages=[
            Message("system", [TextPart("Long policy", cache_control=cached)]),
            Message("user", [TextPart("Question", cache_control={"type": "ephemeral"})]),
        ],
        tools=[ToolSpec("f", cache_control={"type": "ephemeral"})],
    )
    body = anthropic.render_request(req, "up")
    assert body["system"] == [{"type": "text", "text": "Long policy", "cache_control": cached}]
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Question", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["tools"][0]["cache_control"] == {"type": "ephemeral"}
    assert anthropic.parse_request(body).messages == req.messages


def test_json_object_becomes_a_system_instruction():
    """json_object has no Anthropic mode, so it is asked for in the system prompt."""
    req = ChatRequest(
        model="m",
        messages=[Message("system", [TextPart("Hi.")]), Message("user", [TextPart("x")])],
        response_format=ResponseFormat("json_object"),
    )
    body = anthropic.render_request(req, "m", default_max_tokens=7)
    assert body["max_tokens"] == 7
    assert body["system"][1] == {"type": "text", "text": anthropic.JSON_OBJECT_INSTRUCTION}


def test_named_tool_choice_and_failed_tool_result():
    """A named tool choice is type tool; a failed tool result carries is_error."""
    req = ChatRequest(
        model="m",
        messages=[
            Message("user", [TextPart("x")]),
            Message("assistant", tool_calls=[ToolCall("t1", "f", "")]),
            Message("tool", [], tool_call_id="t1", is_error=True),
        ],
        tools=[ToolSpec("f")],
        tool_choice=ToolChoice("tool", "f"),
    )
    body = anthropic.render_request(req, "m")
    assert body["tool_choice"] == {"type": "tool", "name": "f"}
    assert body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    ]
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "t1", "is_error": True}
    ]


def test_arguments_that_are_not_an_object_cannot_go_to_anthropic():
    """Tool-call arguments that are not a JSON object are rejected, naming the call."""
    req = ChatRequest(
        model="m",
        messages=[
            Message("user", [TextPart("x")]),
            Message("assistant", tool_calls=[ToolCall("t1", "f", "[1, 2]")]),
        ],
    )
    with pytest.raises(InvalidRequestError) as caught:
        anthropic.render_request(req, "m")
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


def test_parse_tool_use_message():
    """A real-shaped message becomes a canonical response; cache tokens count as input."""
    assert anthropic.parse_response(TOOL_USE_MESSAGE) == ChatResponse(
        id="msg_01Aq9w938a90dw8q",
        model="claude-test",
        message=Message(
            "assistant",
            [ThinkingPart("hm", signature="sig"), TextPart("I'll check.")],
            tool_calls=[ToolCall("toolu_01A", "get_weather", '{"location":"SF"}')],
        ),
        finish_reason="tool_calls",
        usage=Usage(142, 40, cache_read_tokens=30, cache_write_tokens=100),
    )


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason, finish):
    """Every Anthropic stop_reason maps to a canonical finish reason."""
    body = {**TOOL_USE_MESSAGE, "stop_reason": stop_reason, "stop_sequence": "###"}
    resp = anthropic.parse_response(body)
    assert resp.finish_reason == finish
    assert resp.stop_sequence == ("###" if finish == "stop" else None)


def test_malformed_message_is_transient_provider_error():
    """A message without content raises a transient ProviderError."""
    with pytest.raises(ProviderError) as caught:
        anthropic.parse_response({"id": "x", "model": "m"})
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_render_response_is_an_sdk_message():
    """The rendered response validates as the SDK's Message with stop_sequence set."""
    resp = ChatResponse(
        "msg_1",
        "claude",
        Message("assistant", [TextPart("Hi")]),
        "stop",
        Usage(3, 1),
        stop_sequence="##",
    )
    body = anthropic.render_response(resp)
    assert body == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "stop_sequence",
        "stop_sequence": "##",
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    assert SDKMessage.model_validate(body).stop_reason == "stop_sequence"


def test_render_response_with_bad_arguments_is_provider_error():
    """Upstream tool arguments that are not a JSON object cannot become tool_use input."""
    message = Message("assistant", tool_calls=[ToolCall("t", "f", "{oops")])
    with pytest.raises(ProviderError):
        anthropic.render_response(ChatResponse("m", "m", message, "tool_calls"))


@s.FAST
@given(s.responses(s.ANTHROPIC))
def test_sdk_reads_every_rendered_response(resp: ChatResponse):
    """Every rendered response validates as an SDK Message with the same text and tool calls."""
    message = SDKMessage.model_validate(anthropic.render_response(resp))
    assert [b.text for b in message.content if b.type == "text"] == [
        p.text for p in resp.message.content
    ]
    calls = [(b.id, b.name) for b in message.content if b.type == "tool_use"]
    assert calls == [(c.id, c.name) for c in resp.message.tool_calls]
    assert message.usage.output_tokens == resp.usage.output_tokens


def test_render_error_is_read_by_the_sdk():
    """The anthropic SDK raises the status error with the rendered error body."""
    body = anthropic.render_error("invalid_request_error", "messages: bad")
    assert body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "messages: bad"},
    }
    client = anthropic_sdk.Anthropic(
        api_key="k",
        base_url="http://test",
        http_client=httpx2.Client(
            transport=httpx2.MockTransport(lambda _: httpx2.Response(400, json=body))
        ),
        max_retries=0,
    )
    with pytest.raises(anthropic_sdk.BadRequestError) as caught:
        client.messages.create(
            model="claude-test", max_tokens=1, messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.body == body
