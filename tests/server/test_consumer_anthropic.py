"""/v1/messages through the official anthropic SDK: routing to any provider, errors, tools."""

from __future__ import annotations

import anthropic
import pytest

from tokenhub.sim import count_tokens


async def test_messages_routed_to_openai_provider(stack, claude):
    """An Anthropic client's request is served by an OpenAI-shaped provider through translation."""
    answer = "Translated from OpenAI's shape."
    stack.sim.enqueue("oa", model="big-oa", reply=answer)
    raw = await claude.messages.with_raw_response.create(
        model="big-oa", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )
    message = await raw.parse()
    assert message.model == "big-oa"
    assert message.content[0].type == "text"
    assert message.content[0].text == answer
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == count_tokens(answer)
    assert raw.headers["x-tokenhub-provider"] == "oa"
    body = stack.sim.received_by("oa")[-1].body
    assert body["model"] == "big-oa"
    assert body["messages"] == [{"role": "user", "content": "hi"}]


async def test_system_prompt_reaches_openai_provider(stack, claude):
    """Anthropic's top-level system becomes an OpenAI system message."""
    await claude.messages.create(
        model="big-oa",
        max_tokens=50,
        system="Be brief.",
        messages=[{"role": "user", "content": "hi"}],
    )
    body = stack.sim.received_by("oa")[-1].body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


async def test_streaming_messages(stack, claude):
    """The anthropic SDK's stream helper accumulates a routed, translated stream."""
    answer = "Streamed through translation, piece by piece."
    stack.sim.enqueue("ob", model="small-ob", reply=answer)
    async with claude.messages.stream(
        model="small-ob", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        message = await stream.get_final_message()
    assert message.model == "small-ob"
    assert message.content[0].text == answer
    assert message.stop_reason == "end_turn"


async def test_routing_target_on_messages(stack, claude):
    """Routing targets work on /v1/messages too."""
    message = await claude.messages.create(
        model="tokenhub/high_confidence",
        max_tokens=50,
        messages=[{"role": "user", "content": "hi"}],
    )
    assert message.model == "claude-x"


async def test_tool_use_anthropic_client_to_openai_provider(stack, claude):
    """A tool declared by an Anthropic client reaches an OpenAI provider; tool_use comes back."""
    stack.sim.enqueue("oa", tool_calls=[{"name": "lookup", "arguments": {"q": "tokenhub"}}])
    tools = [
        {
            "name": "lookup",
            "description": "Search",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
        }
    ]
    message = await claude.messages.create(
        model="big-oa",
        max_tokens=100,
        tools=tools,
        messages=[{"role": "user", "content": "find tokenhub"}],
    )
    block = next(b for b in message.content if b.type == "tool_use")
    assert block.name == "lookup"
    assert block.input == {"q": "tokenhub"}
    assert message.stop_reason == "tool_use"
    sent = stack.sim.received_by("oa")[-1].body
    assert sent["tools"][0]["function"]["name"] == "lookup"


async def test_tool_result_round_trip(stack, claude):
    """A tool_result turn from the Anthropic client arrives as an OpenAI tool message."""
    await claude.messages.create(
        model="big-oa",
        max_tokens=50,
        messages=[
            {"role": "user", "content": "find it"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"}],
            },
        ],
    )
    messages = stack.sim.received_by("oa")[-1].body["messages"]
    assert messages[1]["tool_calls"][0]["id"] == "toolu_1"
    assert messages[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "found"}


async def test_error_object_is_anthropic_shaped(stack, claude):
    """Errors on /v1/messages use Anthropic's error shape with tokenhub's type."""
    with pytest.raises(anthropic.APIStatusError) as info:
        await claude.messages.create(
            model="auto",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"tokenhub": {"min_weight": 10}},
        )
    assert info.value.status_code == 503
    body = info.value.body
    assert body["type"] == "error"
    assert body["error"]["type"] == "no_eligible_model"
    assert "claude-x" in body["error"]["rejections"]


async def test_missing_max_tokens_is_invalid(stack):
    """Anthropic's required max_tokens is enforced with the field named."""
    response = await stack.client.post(
        "/v1/messages", json={"model": "auto", "messages": [{"role": "user", "content": "x"}]}
    )
    body = await response.json()
    assert response.status == 400
    assert body["error"]["type"] == "invalid_request"
    assert body["error"]["param"] == "max_tokens"


async def test_count_tokens_is_tokenhubs_estimate(stack, claude):
    """messages.count_tokens answers with the routing estimate, without calling a provider."""
    short = await claude.messages.count_tokens(
        model="claude-x", messages=[{"role": "user", "content": "hi"}]
    )
    longer = await claude.messages.count_tokens(
        model="auto",
        system="You are terse.",
        messages=[{"role": "user", "content": "Summarise this: " + "word " * 300}],
    )
    assert 0 < short.input_tokens < longer.input_tokens
    assert longer.input_tokens >= 1500 / 3  # errs high: about one token per 3 characters
    assert not stack.sim.received
    with pytest.raises(anthropic.NotFoundError) as info:
        await claude.messages.count_tokens(
            model="claude-9", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.body["error"]["type"] == "model_not_found"


async def test_prompt_cache_breakpoints_reach_an_anthropic_provider(stack, claude):
    """cache_control set by an Anthropic client survives translation to an Anthropic upstream."""
    await claude.messages.create(
        model="claude-x",
        max_tokens=50,
        system=[
            {"type": "text", "text": "Long shared policy", "cache_control": {"type": "ephemeral"}}
        ],
        tools=[
            {
                "name": "f",
                "input_schema": {"type": "object"},
                "cache_control": {"type": "ephemeral"},
            }
        ],
        messages=[{"role": "user", "content": "hi"}],
    )
    sent = stack.sim.received_by("an")[-1].body
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert sent["tools"][0]["cache_control"] == {"type": "ephemeral"}
