"""Same-format routes carry the client's body and vendor headers whole; redirects are refused."""

from __future__ import annotations

import aiohttp
import pytest

from tokenhub.testing.stack import gateway_stack, provider_for

from . import routing_stack
from .routing_stack import model
from .test_observability import scrape, value

BETAS = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27"
CLAUDE_EXTRAS = {
    "context_management": {"edits": [{"type": "clear_tool_uses_20250919"}]},
    "output_config": {"effort": "medium"},
    "metadata": {"user_id": "user-1"},
    "top_k": 5,
    "service_tier": "auto",
    "some_field_from_next_year": {"nested": [1, 2, 3]},
}
OPENAI_EXTRAS = {
    "logprobs": True,
    "top_logprobs": 2,
    "logit_bias": {"50256": -100},
    "service_tier": "default",
    "metadata": {"team": "search"},
    "store": False,
    "prediction": {"type": "content", "content": "hello"},
    "modalities": ["text"],
    "verbosity": "low",
}


async def test_anthropic_client_body_and_betas_reach_an_anthropic_provider(stack, claude):
    """Every body field the client sent, unknown ones too, and its betas arrive as sent."""
    await claude.messages.create(
        model="claude-x",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_body={**CLAUDE_EXTRAS, "tokenhub": {"mode": "normal"}},
        extra_headers={"anthropic-beta": BETAS},
    )
    received = stack.sim.received_by("an")[-1]
    body = received.body
    for field, sent in CLAUDE_EXTRAS.items():
        assert body[field] == sent, field
    assert "tokenhub" not in body
    assert received.headers["anthropic-beta"] == BETAS


async def test_client_credentials_never_reach_the_provider(stack):
    """The client's own key and account headers stay at tokenhub; the provider's key is used."""
    headers = {
        "x-api-key": "client-key-123",
        "authorization": "Bearer client-key-123",
        "anthropic-version": "2099-01-01",
        "openai-organization": "org-client",
    }
    body = {"model": "claude-x", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stack.url}/v1/messages", json=body, headers=headers) as resp,
    ):
        assert resp.status == 200
    received = stack.sim.received_by("an")[-1].headers
    assert "client-key-123" not in str(dict(received))
    assert "openai-organization" not in {k.lower() for k in received}
    assert received["anthropic-version"] == "2099-01-01"  # the client's own version


async def test_anthropic_version_defaults_when_the_client_sends_none(stack):
    """A client that names no API version gets the provider's default one sent."""
    body = {"model": "claude-x", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{stack.url}/v1/messages", json=body) as resp,
    ):
        assert resp.status == 200
    assert stack.sim.received_by("an")[-1].headers["anthropic-version"] == "2023-06-01"


async def test_openai_client_newer_fields_reach_an_openai_provider(stack, oai):
    """logprobs, service_tier, store, prediction, verbosity... reach the provider unchanged."""
    await oai.chat.completions.create(
        model="small-oa",
        messages=[{"role": "user", "content": "hi"}],
        extra_body=OPENAI_EXTRAS,
        extra_headers={"OpenAI-Beta": "assistants=v2"},
    )
    received = stack.sim.received_by("oa")[-1]
    for field, sent in OPENAI_EXTRAS.items():
        assert received.body[field] == sent, field
    assert received.headers["openai-beta"] == "assistants=v2"


async def test_openai_streams_ask_for_usage_and_keep_the_clients_options(stack, oai):
    """A forwarded stream asks for usage; the client's other stream options are kept."""
    stream = await oai.chat.completions.create(
        model="small-oa",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_obfuscation": False},
    )
    chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)  # not asked for: not shown
    options = stack.sim.received_by("oa")[-1].body["stream_options"]
    assert options == {"include_obfuscation": False, "include_usage": True}


async def test_anthropic_stream_is_relayed_with_tokenhubs_model(stack, claude):
    """An Anthropic stream to an Anthropic client is relayed whole and names tokenhub's model."""
    stack.sim.enqueue("an", reply="Relayed as Anthropic sent it.")
    async with claude.messages.stream(
        model="tokenhub/high_confidence",
        max_tokens=100,
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        message = await stream.get_final_message()
    assert message.model == "claude-x"
    assert message.content[0].text == "Relayed as Anthropic sent it."
    assert message.usage.output_tokens > 0
    assert value(await scrape(stack), "tokenhub_streams_total", path="passthrough") == 1


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"api_base": "http://evil.example"}, "api_base"),
        ({"base_url": "http://evil.example"}, "base_url"),
        ({"api_key": "sk-stolen"}, "api_key"),
        ({"extra_headers": {"x-api-key": "k"}}, "extra_headers"),
        ({"metadata": {"user_id": "u", "headers": {"a": "b"}}}, "metadata.headers"),
    ],
)
async def test_fields_that_choose_a_destination_are_refused(stack, oai, extra, param):
    """A field that would pick the upstream, its credential or headers is a 400 naming it."""
    import openai

    with pytest.raises(openai.BadRequestError) as caught:
        await oai.chat.completions.create(
            model="small-oa", messages=[{"role": "user", "content": "hi"}], extra_body=extra
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["type"] == "forbidden_field"
    assert error["param"] == param
    assert not stack.sim.received_by("oa")


async def test_tool_schemas_may_name_an_api_key(stack, oai):
    """A tool whose parameters include ``api_key`` is the client's data, not a redirect."""
    tool = {
        "type": "function",
        "function": {
            "name": "call_service",
            "parameters": {"type": "object", "properties": {"api_key": {"type": "string"}}},
        },
    }
    await oai.chat.completions.create(
        model="small-oa", messages=[{"role": "user", "content": "hi"}], tools=[tool]
    )
    assert stack.sim.received_by("oa")[-1].body["tools"] == [tool]


async def test_betas_across_formats_are_named_in_a_warning(stack, claude):
    """An Anthropic client's betas cannot reach an OpenAI provider: the answer says so."""
    raw = await claude.messages.with_raw_response.create(
        model="big-oa",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"anthropic-beta": BETAS},
    )
    warning = raw.headers["x-tokenhub-warnings"]
    assert warning.startswith("anthropic-beta header:")
    message = await raw.parse()
    assert message.content[0].type == "text"
    assert "anthropic-beta" not in stack.sim.received_by("oa")[-1].headers


async def test_strict_refuses_what_would_be_dropped(stack, claude):
    """With tokenhub.strict, a request the routed format cannot carry whole is a 400."""
    import anthropic

    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude.messages.create(
            model="big-oa",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"anthropic-beta": BETAS},
            extra_body={"tokenhub": {"strict": True}},
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["error"]["type"] == "untranslatable_field"
    assert error["error"]["param"] == "anthropic-beta header"
    assert not stack.sim.received_by("oa")


async def test_openai_answer_comes_back_whole(stack, oai):
    """A non-streamed OpenAI answer keeps the provider's own fields, tokenhub's model shown."""
    raw = await oai.chat.completions.with_raw_response.create(
        model="small-oa", messages=[{"role": "user", "content": "hi"}]
    )
    answer = raw.http_response.json()
    assert answer["model"] == "small-oa"
    assert answer["system_fingerprint"].startswith("fp_")
    assert answer["service_tier"] == "default"
    assert "tokenhub" not in answer
    assert "x-tokenhub-warnings" not in raw.headers


async def test_anthropic_answer_comes_back_whole(stack, claude):
    """A non-streamed Anthropic answer keeps the provider's usage details as sent."""
    raw = await claude.messages.with_raw_response.create(
        model="claude-x", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
    )
    answer = raw.http_response.json()
    assert answer["model"] == "claude-x"
    assert answer["usage"]["service_tier"] == "standard"


def renamed_registry(sim):
    """One Anthropic model whose tokenhub id differs from its upstream name."""
    providers = [provider_for(sim, "an", timeout_s=2)]
    return providers, [model("sonnet", "an", "claude-x", max_context_tokens=200_000)]


async def test_anthropic_stream_and_answer_show_tokenhubs_model_id(tokenhub_home):
    """The upstream's model name is replaced by tokenhub's id, streamed and not."""
    import anthropic

    async with (
        gateway_stack(routing_stack.scenario(), renamed_registry) as stack,
        anthropic.AsyncAnthropic(base_url=stack.url, api_key="unused", max_retries=0) as claude,
    ):
        ask = {"model": "sonnet", "max_tokens": 30, "messages": [{"role": "user", "content": "hi"}]}
        message = await claude.messages.create(**ask)
        async with claude.messages.stream(**ask) as stream:
            streamed = await stream.get_final_message()
        assert stack.sim.received_by("an")[-1].body["model"] == "claude-x"
    assert message.model == streamed.model == "sonnet"
    assert streamed.content[0].text


THINK = {"type": "enabled", "budget_tokens": 2048}
TOOLS = [
    {
        "name": "lookup",
        "description": "Look a word up",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
]


async def test_signed_thinking_comes_back_plain_and_streamed(stack, claude):
    """Anthropic's signed thinking blocks reach an Anthropic client intact, both ways."""
    ask = {
        "model": "claude-x",
        "max_tokens": 4096,
        "thinking": THINK,
        "messages": [{"role": "user", "content": "think first"}],
    }
    stack.sim.enqueue("an", reply="Done.", thinking="Let me think it through.")
    message = await claude.messages.create(**ask)
    stack.sim.enqueue("an", reply="Done.", thinking="Let me think it through.")
    async with claude.messages.stream(**ask) as stream:
        streamed = await stream.get_final_message()
    for answer in (message, streamed):
        thinking = answer.content[0]
        assert thinking.type == "thinking"
        assert thinking.thinking == "Let me think it through."
        assert thinking.signature == stack.sim.thinking_signature("an", thinking.thinking)
        assert answer.content[1].text == "Done."


async def test_multi_turn_with_thinking_and_tool_use(stack, claude):
    """A thinking + tool_use turn sent back with its tool result is accepted by Anthropic."""
    question = {"role": "user", "content": "look up tokenhub"}
    stack.sim.enqueue("an", tool_calls=[{"name": "lookup", "arguments": {"q": "tokenhub"}}])
    first = await claude.messages.create(
        model="claude-x", max_tokens=4096, thinking=THINK, tools=TOOLS, messages=[question]
    )
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    tool_use = first.content[1]
    follow_up = [
        question,
        {"role": "assistant", "content": [block.model_dump() for block in first.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": tool_use.id, "content": "a gateway"}
            ],
        },
    ]
    async with claude.messages.stream(
        model="claude-x", max_tokens=4096, thinking=THINK, tools=TOOLS, messages=follow_up
    ) as stream:
        second = await stream.get_final_message()
    assert second.stop_reason == "end_turn"
    sent_back = stack.sim.received_by("an")[-1].body["messages"][1]["content"][0]
    assert sent_back == first.content[0].model_dump()  # byte for byte, signature included


async def test_openai_logprobs_round_trip(stack, oai):
    """Logprobs asked by an OpenAI client come back from an OpenAI provider, plain and streamed."""
    ask = {
        "model": "small-oa",
        "messages": [{"role": "user", "content": "hi"}],
        "logprobs": True,
        "top_logprobs": 2,
    }
    plain = await oai.chat.completions.create(**ask)
    content = plain.choices[0].logprobs.content
    assert content
    assert "".join(item.token for item in content) == plain.choices[0].message.content
    assert all(len(item.top_logprobs) == 2 for item in content)
    stream = await oai.chat.completions.create(**ask, stream=True)
    tokens = [
        item.token
        async for chunk in stream
        if chunk.choices and chunk.choices[0].logprobs
        for item in chunk.choices[0].logprobs.content or ()
    ]
    assert tokens
