"""Across formats every request field is translated or reported; strict refuses instead."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tokenhub.testing.stack import gateway_stack

from . import test_passthrough as relay

HI = [{"role": "user", "content": "hi"}]
THOUGHT = "Two and two."


def signed(sim) -> list[dict]:
    """A conversation whose assistant turn carries thinking the simulated Anthropic signed."""
    sign, redact = sim.thinking_signature, sim.redacted_thinking_data
    thinking = {"type": "thinking", "thinking": THOUGHT, "signature": sign("an", THOUGHT)}
    redacted = {"type": "redacted_thinking", "data": redact("an")}
    return [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": [thinking, redacted, {"type": "text", "text": "4"}]},
        {"role": "user", "content": "And 3+3?"},
    ]


@pytest.fixture
async def vllm_stack(tokenhub_home):
    """The gateway in front of OpenAI, vLLM and Anthropic upstreams."""
    async with gateway_stack(
        relay.scenario(), relay.registry, environ={"OA_KEY": relay.SECRET}
    ) as stack:
        yield stack


async def test_openai_logprobs_to_anthropic_are_named_in_the_warnings(stack, oai):
    """An OpenAI client's logprobs to an Anthropic model: answered, and named in the warnings."""
    raw = await oai.chat.completions.with_raw_response.create(
        model="claude-x", messages=HI, logprobs=True, top_logprobs=2
    )
    warnings = raw.headers["x-tokenhub-warnings"]
    assert warnings.startswith("logprobs: Anthropic returns no token log-probabilities")
    assert "top_logprobs" in warnings
    assert "logprobs" not in stack.sim.received_by("an")[-1].body
    body = raw.http_response.json()
    assert any(w.startswith("logprobs:") for w in body["tokenhub"]["warnings"])


async def test_strict_refuses_logprobs_to_anthropic(stack, oai):
    """tokenhub.strict: the same request is a 400 untranslatable_field naming logprobs."""
    with pytest.raises(openai.BadRequestError) as caught:
        await oai.chat.completions.create(
            model="claude-x", messages=HI, logprobs=True, extra_body={"tokenhub": {"strict": True}}
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert (error["type"], error["param"]) == ("untranslatable_field", "logprobs")
    assert stack.sim.received_by("an") == []


async def test_clean_cross_format_request_has_no_warnings(stack, oai):
    """Fields with counterparts cross silently: no warnings header, no tokenhub field."""
    raw = await oai.chat.completions.with_raw_response.create(
        model="claude-x", messages=HI, stop=["END"], user="u-1", temperature=0.5
    )
    assert "x-tokenhub-warnings" not in raw.headers
    assert "tokenhub" not in raw.http_response.json()
    sent = stack.sim.received_by("an")[-1].body
    assert (sent["stop_sequences"], sent["metadata"]) == (["END"], {"user_id": "u-1"})


async def test_anthropic_thinking_reaches_openai_as_reasoning_effort(stack, claude):
    """Anthropic thinking with a 2,048-token budget arrives at OpenAI as reasoning_effort low."""
    await claude.messages.create(
        model="small-oa",
        max_tokens=3000,
        messages=HI,
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    sent = stack.sim.received_by("oa")[-1].body
    assert sent["reasoning_effort"] == "low"
    assert "thinking" not in sent


async def test_signed_thinking_to_openai_is_stripped_with_warnings(stack, claude):
    """Signed and redacted thinking blocks routed to an OpenAI model are dropped and named."""
    raw = await claude.messages.with_raw_response.create(
        model="small-oa", max_tokens=50, messages=signed(stack.sim)
    )
    warnings = raw.headers["x-tokenhub-warnings"]
    assert "messages[1].content[0] (thinking): signed by Anthropic" in warnings
    assert "messages[1].content[1] (redacted_thinking)" in warnings
    sent = stack.sim.received_by("oa")[-1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": "4"}


async def test_signed_thinking_to_anthropic_passes_byte_for_byte(stack, claude):
    """The same conversation routed to an Anthropic model arrives exactly as sent, no warning."""
    conversation = signed(stack.sim)
    raw = await claude.messages.with_raw_response.create(
        model="claude-x", max_tokens=50, messages=conversation
    )
    assert "x-tokenhub-warnings" not in raw.headers
    assert stack.sim.received_by("an")[-1].body["messages"] == conversation


async def test_openai_thinking_blocks_reach_anthropic_in_place(stack, oai):
    """An OpenAI client's thinking_blocks come back to Anthropic before the turn's text."""
    conversation = signed(stack.sim)
    blocks = conversation[1]["content"][:2]
    messages = [
        conversation[0],
        {"role": "assistant", "content": "4", "thinking_blocks": blocks},
        conversation[2],
    ]
    raw = await oai.chat.completions.with_raw_response.create(model="claude-x", messages=messages)
    assert "x-tokenhub-warnings" not in raw.headers
    sent = stack.sim.received_by("an")[-1].body["messages"]
    assert sent[1]["content"] == conversation[1]["content"]


async def test_top_k_reaches_vllm_and_is_noted_for_openai(vllm_stack):
    """An Anthropic client's top_k is sent to vLLM as top_k; to OpenAI it is a warning."""
    async with anthropic.AsyncAnthropic(
        base_url=vllm_stack.url, api_key="unused", max_retries=0
    ) as claude:
        local = await claude.messages.with_raw_response.create(
            model="local", max_tokens=20, messages=HI, extra_body={"top_k": 7}
        )
        remote = await claude.messages.with_raw_response.create(
            model="fast", max_tokens=20, messages=HI, extra_body={"top_k": 7}
        )
    assert vllm_stack.sim.received_by("vl")[-1].body["top_k"] == 7
    assert "x-tokenhub-warnings" not in local.headers
    assert "top_k" not in vllm_stack.sim.received_by("oa")[-1].body
    assert remote.headers["x-tokenhub-warnings"] == "top_k: OpenAI's API has no top_k"


async def test_streamed_answer_carries_the_warnings_header(stack, oai):
    """A streamed cross-format answer names what was dropped in its headers too."""
    async with oai.chat.completions.with_streaming_response.create(
        model="claude-x", messages=HI, stream=True, seed=3
    ) as response:
        assert response.headers["x-tokenhub-warnings"] == "seed: Anthropic has no seeded sampling"
        chunks = [chunk async for chunk in await response.parse()]
    assert chunks


async def test_thinking_and_tool_use_turn_reaches_openai_as_a_tool_call(stack, claude):
    """An assistant turn of thinking then tool_use becomes tool_calls with no content."""
    thinking = signed(stack.sim)[1]["content"][0]
    call = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"x": 1}}
    messages = [
        {"role": "user", "content": "use f"},
        {"role": "assistant", "content": [thinking, call]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}],
        },
    ]
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    await claude.messages.create(model="small-oa", max_tokens=50, messages=messages, tools=tools)
    sent = stack.sim.received_by("oa")[-1].body["messages"]
    assert sent[1]["content"] is None
    assert sent[1]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x":1}'}


async def test_openai_reasoning_effort_reaches_anthropic_as_thinking(stack, oai):
    """reasoning_effort low is a 2,048-token thinking budget; a conflicting temperature goes."""
    raw = await oai.chat.completions.with_raw_response.create(
        model="claude-x", messages=HI, reasoning_effort="low", temperature=0.3
    )
    sent = stack.sim.received_by("an")[-1].body
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "temperature" not in sent
    assert raw.headers["x-tokenhub-warnings"].startswith("temperature: Anthropic refuses it")
