"""render_request, parse_response/render_response and render_error for the OpenAI format."""

from __future__ import annotations

import httpx2
import openai as openai_sdk
import pytest
from hypothesis import given
from openai.types.chat import ChatCompletion
from tests.providers.wire import strategies as s

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.wire import anthropic as anthropic_wire
from tokenhub.providers.wire import openai
from tokenhub.types import (
    ChatRequest,
    ChatResponse,
    ClientBody,
    FieldNote,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
    Usage,
)

# Shaped like the documented tool-call response, including fields tokenhub ignores.
TOOL_CALL_COMPLETION = {
    "id": "chatcmpl-BcQ8ko2nz9B7CRvV0uVbcowidHpQU",
    "object": "chat.completion",
    "created": 1748496646,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "annotations": [],
                "tool_calls": [
                    {
                        "id": "call_qOfTGgDrItLORNfC6VwUbyLL",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"location":"Shanghai"}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 91,
        "completion_tokens": 14,
        "total_tokens": 105,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_76544d79cb",
}


def test_render_request_for_upstream():
    """The upstream body uses the upstream model, max_completion_tokens and asks for usage."""
    req = ChatRequest(
        model="alias",
        messages=[
            Message("system", [TextPart("Be brief.")]),
            Message("user", [TextPart("Hi")], name="bob"),
        ],
        max_tokens=100,
        temperature=0.5,
        stop=["\n\n"],
        tools=[ToolSpec("f", "does f", {"type": "object"})],
        tool_choice=ToolChoice("tool", "f"),
        response_format=ResponseFormat("json_schema", {"type": "object"}),
        stream=True,
        user="u1",
    )
    assert openai.render_request(req, "gpt-4o-mini") == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi", "name": "bob"},
        ],
        "max_completion_tokens": 100,
        "temperature": 0.5,
        "stop": ["\n\n"],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "f",
                    "description": "does f",
                    "parameters": {"type": "object"},
                },
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": {"type": "object"}},
        },
        "user": "u1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_render_request_minimal():
    """Unset optional fields are left out of the upstream body."""
    req = ChatRequest(model="m", messages=[Message("user", [TextPart("x")])])
    assert openai.render_request(req, "up") == {
        "model": "up",
        "messages": [{"role": "user", "content": "x"}],
    }


def test_render_request_carries_seed_penalties_effort_and_parallel_flag():
    """seed, the penalties and reasoning_effort go upstream as sent.

    parallel_tool_calls only goes with tools: OpenAI refuses it without.
    """
    extras = {
        "seed": 7,
        "presence_penalty": -1.0,
        "frequency_penalty": 0.5,
        "reasoning_effort": "high",
        "parallel_tool_calls": False,
    }
    bare = ChatRequest(model="m", messages=[Message("user", [TextPart("x")])], **extras)
    body = openai.render_request(bare, "up")
    assert {k: body.get(k) for k in extras} == {**extras, "parallel_tool_calls": None}
    with_tools = ChatRequest(
        model="m", messages=[Message("user", [TextPart("x")])], tools=[ToolSpec("f")], **extras
    )
    assert openai.render_request(with_tools, "up")["parallel_tool_calls"] is False


def test_render_tool_traffic():
    """Assistant tool calls carry null content; tool results carry their call id."""
    call = ToolCall("call_1", "f", '{"a":1}')
    req = ChatRequest(
        model="m",
        messages=[
            Message("user", [TextPart("go")]),
            Message("assistant", tool_calls=[call]),
            Message("tool", [TextPart("done")], tool_call_id="call_1"),
        ],
    )
    assert openai.render_request(req, "m")["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a":1}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "done"},
    ]


def test_tool_result_images_follow_as_user_message():
    """Images in tool results (possible from Anthropic) move to a user message after the results."""
    image = ImagePart("data:image/png;base64,AAAA")
    req = ChatRequest(
        model="m",
        messages=[
            Message("user", [TextPart("look")]),
            Message(
                "assistant", tool_calls=[ToolCall("a", "shot", "{}"), ToolCall("b", "shot", "{}")]
            ),
            Message("tool", [TextPart("here"), image], tool_call_id="a"),
            Message("tool", [image], tool_call_id="b"),
        ],
    )
    rendered = openai.render_request(req, "m")["messages"]
    assert [m["role"] for m in rendered] == ["user", "assistant", "tool", "tool", "user"]
    assert rendered[2]["content"] == "here"
    assert rendered[3]["content"] == ""
    part = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    assert rendered[4]["content"] == [part, part]


def test_parse_tool_call_completion():
    """A real-shaped tool-call completion becomes a canonical response."""
    assert openai.parse_response(TOOL_CALL_COMPLETION) == ChatResponse(
        id="chatcmpl-BcQ8ko2nz9B7CRvV0uVbcowidHpQU",
        model="gpt-4o-2024-08-06",
        message=Message(
            "assistant",
            tool_calls=[
                ToolCall("call_qOfTGgDrItLORNfC6VwUbyLL", "get_weather", '{"location":"Shanghai"}')
            ],
        ),
        finish_reason="tool_calls",
        usage=Usage(91, 14),
        created=1748496646,
    )


def test_parse_refusal_as_text():
    """A refusal with null content is kept as assistant text."""
    body = {
        "id": "c",
        "model": "m",
        "created": 1,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "No."},
                "finish_reason": "stop",
            }
        ],
    }
    resp = openai.parse_response(body)
    assert resp.message.content == [TextPart("No.")]
    assert resp.usage == Usage()


@pytest.mark.parametrize(
    "body", [{}, {"id": "x", "choices": []}, {"id": "x", "model": "m", "choices": [None]}]
)
def test_malformed_response_is_transient_provider_error(body):
    """A response missing required parts raises a transient ProviderError."""
    with pytest.raises(ProviderError) as caught:
        openai.parse_response(body)
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_render_response_is_a_chat_completion():
    """The rendered response validates as the SDK's ChatCompletion with the same content."""
    resp = ChatResponse(
        "id1", "gpt", Message("assistant", [TextPart("Hello")]), "stop", Usage(3, 2), 1700000000
    )
    body = openai.render_response(resp)
    assert body["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "Hello", "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "stop",
    }
    completion = ChatCompletion.model_validate(body)
    assert completion.usage is not None
    assert completion.usage.total_tokens == 5


@s.FAST
@given(s.responses(s.OPENAI))
def test_sdk_reads_every_rendered_response(resp: ChatResponse):
    """Every rendered response validates as ChatCompletion and keeps text and tool calls."""
    completion = ChatCompletion.model_validate(openai.render_response(resp))
    message = completion.choices[0].message
    assert (message.content or "") == resp.message.text()
    calls = [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []]
    assert calls == [(c.id, c.name, c.arguments) for c in resp.message.tool_calls]


def test_render_error_is_read_by_the_sdk():
    """The openai SDK surfaces type, param and code from a rendered error body."""
    body = openai.render_error(
        "invalid_request_error", "bad content", param="messages[1].content", code="invalid_value"
    )
    assert body == {
        "error": {
            "message": "bad content",
            "type": "invalid_request_error",
            "param": "messages[1].content",
            "code": "invalid_value",
        }
    }
    transport = httpx2.MockTransport(lambda _: httpx2.Response(400, json=body))
    client = openai_sdk.OpenAI(
        api_key="k",
        base_url="http://test/v1",
        http_client=httpx2.Client(transport=transport),
        max_retries=0,
    )
    with pytest.raises(openai_sdk.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert (caught.value.type, caught.value.param, caught.value.code) == (
        "invalid_request_error",
        "messages[1].content",
        "invalid_value",
    )


# An Anthropic client's request, translated: what crosses and what is noted.


def from_anthropic(body: dict, *, vllm: bool = False) -> tuple[dict, list[FieldNote]]:
    """An Anthropic client's body parsed and rendered for OpenAI (or vLLM), with the notes."""
    req = anthropic_wire.parse_request(body)
    req.source = ClientBody("anthropic", body)
    notes: list[FieldNote] = []
    return openai.render_request(req, "gpt-up", notes=notes, vllm=vllm), notes


ASK: dict = {"model": "m", "max_tokens": 20000, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("extra", "effort"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 10000}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "low"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, "low"),
        ({"thinking": {"type": "adaptive"}}, None),
        ({"thinking": {"type": "disabled"}}, None),
    ],
)
def test_thinking_becomes_reasoning_effort(extra, effort):
    """A budget maps to an effort; adaptive takes the effort sent, else the model's default."""
    sent, notes = from_anthropic({**ASK, **extra})
    assert sent.get("reasoning_effort") == effort
    assert notes == []


def test_top_k_and_long_stop_lists_reach_vllm_only():
    """VLLM gets top_k and five stop sequences; OpenAI the first four, both losses noted."""
    body = {**ASK, "top_k": 5, "stop_sequences": ["a", "b", "c", "d", "e"]}
    local, local_notes = from_anthropic(body, vllm=True)
    assert (local["top_k"], local["stop"], local_notes) == (5, ["a", "b", "c", "d", "e"], [])
    remote, remote_notes = from_anthropic(body)
    assert "top_k" not in remote
    assert remote["stop"] == ["a", "b", "c", "d"]
    assert [note.field for note in remote_notes] == ["top_k", "stop_sequences"]


def test_signed_thinking_is_stripped_and_noted():
    """Thinking blocks do not reach an OpenAI-format upstream; each is named."""
    turn = [
        {"type": "thinking", "thinking": "t", "signature": "sig"},
        {"type": "text", "text": "4"},
    ]
    messages = [*ASK["messages"], {"role": "assistant", "content": turn}]
    sent, notes = from_anthropic({**ASK, "messages": [*messages, {"role": "user", "content": "?"}]})
    assert sent["messages"][1] == {"role": "assistant", "content": "4"}
    assert [note.field for note in notes] == ["messages[1].content[0] (thinking)"]


def test_tier_strict_tools_and_format_cross():
    """service_tier, a strict tool and output_config.format reach their OpenAI forms."""
    body = {
        **ASK,
        "service_tier": "standard_only",
        "tools": [{"name": "f", "input_schema": {"type": "object"}, "strict": True}],
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    }
    sent, notes = from_anthropic(body)
    assert sent["service_tier"] == "default"
    assert sent["tools"][0]["function"]["strict"] is True
    assert sent["response_format"]["json_schema"]["strict"] is True
    assert notes == []


def test_anthropic_only_fields_are_noted():
    """container, mcp_servers and an unknown field are named; cache_control is not."""
    body = {**ASK, "container": "c1", "mcp_servers": [], "cache_control": {"type": "ephemeral"}}
    _, notes = from_anthropic({**body, "future_field": 1})
    assert [note.field for note in notes] == ["container", "mcp_servers", "future_field"]


def test_allowed_tools_render_as_openai_allowed_tools():
    """A canonical allowed-tools choice is sent in OpenAI's allowed_tools form."""
    req = ChatRequest(
        "m",
        [Message("user", [TextPart("hi")])],
        tools=[ToolSpec("f")],
        tool_choice=ToolChoice("auto", allowed=["f"]),
    )
    choice = openai.render_request(req, "gpt-up")["tool_choice"]
    tools = [{"type": "function", "function": {"name": "f"}}]
    assert choice == {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": tools}}
