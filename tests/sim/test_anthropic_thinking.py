from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import pytest

from tokenhub.sim import Scenario, Simulator, count_tokens, start_simulator
from tokenhub.sim.thinking import sign_thinking, signature_valid, signing_key

MODEL = "claude-sonnet-4-5"
REDACTED = "claude-redacted"
BOTH = "claude-both"
USER = [{"role": "user", "content": "hello there"}]
THINK = {"type": "enabled", "budget_tokens": 2048}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def _scenario() -> Scenario:
    models = [
        {"id": MODEL, "max_output_tokens": 64_000, "thinking_tokens": 12},
        {"id": REDACTED, "max_output_tokens": 64_000, "redacted_thinking": "instead"},
        {"id": BOTH, "max_output_tokens": 64_000, "thinking_tokens": 3,
         "redacted_thinking": "also"},
    ]  # fmt: skip
    responses = [
        {"match": {"prompt": "(?i)weather"}, "thinking": "The user wants weather; call the tool.",
         "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
    ]  # fmt: skip
    providers = [
        {"name": "anthropic", "type": "anthropic", "models": models, "responses": responses},
        {"name": "other", "type": "anthropic", "thinking_key": "another org", "models": models},
    ]
    return Scenario.model_validate({"seed": 5, "providers": providers})


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A simulator with thinking, redacted and mixed Anthropic models."""
    async with start_simulator(_scenario()) as running:
        yield running


@pytest.fixture
async def claude(sim: Simulator) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """An async Anthropic client for the thinking simulator."""
    async with anthropic.AsyncAnthropic(
        base_url=sim.base_url("anthropic"), api_key="x", max_retries=0
    ) as client:
        yield client


async def _post(sim: Simulator, body: Any, headers: dict[str, str] | None = None) -> Any:
    sent = {"anthropic-version": "2023-06-01", **(headers or {})}
    url = f"{sim.base_url('anthropic')}/v1/messages"
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=sent) as r:
        return r.status, await r.json()


async def test_thinking_block_comes_first(sim: Simulator, claude: anthropic.AsyncAnthropic):
    """With thinking enabled the answer opens with a signed thinking block, then the text."""
    message = await claude.messages.create(
        model=MODEL, max_tokens=4096, messages=USER, thinking=THINK
    )
    thinking, text = message.content
    assert thinking.type == "thinking"
    assert text.type == "text"
    assert count_tokens(thinking.thinking) == 12
    assert thinking.signature == sim.thinking_signature("anthropic", thinking.thinking)
    assert message.usage.output_tokens == 12 + 32


async def test_no_thinking_without_the_parameter(claude: anthropic.AsyncAnthropic):
    """Absent or disabled thinking gives no thinking block and the usual output tokens."""
    for extra in ({}, {"thinking": {"type": "disabled"}}):
        message = await claude.messages.create(model=MODEL, max_tokens=100, messages=USER, **extra)
        assert [b.type for b in message.content] == ["text"]
        assert message.usage.output_tokens == 32


async def test_adaptive_thinking_is_like_enabled(claude: anthropic.AsyncAnthropic):
    """Adaptive thinking answers with a thinking block too."""
    message = await claude.messages.create(
        model=MODEL, max_tokens=100, messages=USER, thinking={"type": "adaptive"}
    )
    assert [b.type for b in message.content] == ["thinking", "text"]


async def test_display_omitted_keeps_the_signature(claude: anthropic.AsyncAnthropic):
    """display: omitted sends an empty thinking text with a signature, billed as before."""
    message = await claude.messages.create(
        model=MODEL,
        max_tokens=4096,
        messages=USER,
        thinking={"type": "enabled", "budget_tokens": 1024, "display": "omitted"},
    )
    thinking = message.content[0]
    assert (thinking.type, thinking.thinking) == ("thinking", "")
    assert thinking.signature
    assert message.usage.output_tokens == 12 + 32


async def test_stream_events_for_thinking(sim: Simulator, claude: anthropic.AsyncAnthropic):
    """A thinking block streams as an empty start, thinking_deltas, one signature_delta, stop."""
    stream = await claude.messages.create(
        model=MODEL, max_tokens=4096, messages=USER, thinking=THINK, stream=True
    )
    events = [event async for event in stream]
    start = events[1]
    assert start.type == "content_block_start"
    assert start.content_block.model_dump() == {
        "type": "thinking",
        "thinking": "",
        "signature": "",
    }
    block = [e for e in events if getattr(e, "index", None) == 0][1:]
    kinds = [e.delta.type if e.type == "content_block_delta" else e.type for e in block]
    assert kinds == ["thinking_delta"] * 12 + ["signature_delta", "content_block_stop"]
    text = "".join(e.delta.thinking for e in block[:12])
    assert block[12].delta.signature == sim.thinking_signature("anthropic", text)
    assert events[-2].usage.output_tokens == 12 + 32


async def test_stream_helper_accumulates_thinking(claude: anthropic.AsyncAnthropic):
    """messages.stream() rebuilds the same thinking block and signature a plain call gives."""
    kwargs: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": USER,
        "thinking": THINK,
    }
    async with claude.messages.stream(**kwargs) as stream:
        thoughts = [e.thinking async for e in stream if e.type == "thinking"]
        final = await stream.get_final_message()
    thinking, text = final.content
    assert thinking.thinking == "".join(thoughts)
    assert signature_valid(signing_key(5), thinking.thinking, thinking.signature)
    assert text.type == "text"


async def test_sync_client_gets_thinking(sim: Simulator):
    """The sync SDK client (in a thread, off the simulator's loop) parses thinking as well."""

    def call() -> str:
        with anthropic.Anthropic(
            base_url=sim.base_url("anthropic"), api_key="x", max_retries=0
        ) as client:
            message = client.messages.create(
                model=MODEL, max_tokens=4096, messages=USER, thinking=THINK
            )
        return message.content[0].type

    assert await asyncio.to_thread(call) == "thinking"


async def test_redacted_instead(sim: Simulator, claude: anthropic.AsyncAnthropic):
    """A redacted_thinking model answers with an opaque redacted block instead of thinking."""
    message = await claude.messages.create(
        model=REDACTED, max_tokens=4096, messages=USER, thinking=THINK
    )
    redacted, text = message.content
    assert redacted.type == "redacted_thinking"
    assert re.fullmatch(r"[A-Za-z0-9+/]+=*", redacted.data)
    assert text.type == "text"
    turn = {"role": "assistant", "content": [redacted.model_dump(), text.model_dump()]}
    again = await claude.messages.create(
        model=REDACTED, max_tokens=4096, messages=[*USER, turn, *USER], thinking=THINK
    )
    assert again.content[0].type == "redacted_thinking"


async def test_redacted_also_streams_whole(claude: anthropic.AsyncAnthropic):
    """With redacted_thinking "also", a redacted block follows thinking, sent in its start event."""
    stream = await claude.messages.create(
        model=BOTH, max_tokens=4096, messages=USER, thinking=THINK, stream=True
    )
    events = [event async for event in stream]
    starts = [e for e in events if e.type == "content_block_start"]
    assert [s.content_block.type for s in starts] == ["thinking", "redacted_thinking", "text"]
    assert starts[1].content_block.data
    index = starts[1].index
    assert [e.type for e in events if getattr(e, "index", None) == index] == [
        "content_block_start",
        "content_block_stop",
    ]


async def test_tool_loop_round_trip(claude: anthropic.AsyncAnthropic):
    """A tool call's thinking block sent back unchanged lets the conversation continue."""
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = await claude.messages.create(
        model=MODEL, max_tokens=4096, messages=ask, thinking=THINK, tools=[WEATHER_TOOL]
    )
    thinking, tool = first.content
    assert thinking.thinking == "The user wants weather; call the tool."
    assert first.stop_reason == "tool_use"
    result = {"type": "tool_result", "tool_use_id": tool.id, "content": "Sunny"}
    conversation = [
        *ask,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [result]},
    ]
    second = await claude.messages.create(
        model=MODEL, max_tokens=4096, messages=conversation, thinking=THINK, tools=[WEATHER_TOOL]
    )
    assert second.content[0].type == "thinking"


async def test_tool_turn_without_thinking_is_rejected(sim: Simulator):
    """With thinking on, a tool-use turn answered by tool_result must start with thinking."""
    turn = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {}}],
    }
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "Sunny"}],
    }
    body = {"model": MODEL, "max_tokens": 4096, "thinking": THINK,
            "messages": [*USER, turn, result]}  # fmt: skip
    status, payload = await _post(sim, body)
    assert status == 400
    message = payload["error"]["message"]
    assert payload["error"]["type"] == "invalid_request_error"
    assert message.startswith(
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found "
        "`tool_use`. When `thinking` is enabled, a final `assistant` message must start with "
        "a thinking block"
    )
    body.pop("thinking")
    status, _ = await _post(sim, body)
    assert status == 200


async def test_forged_signature_is_rejected(sim: Simulator, claude: anthropic.AsyncAnthropic):
    """A thinking block whose text or signature was altered is a 400 naming the block."""
    text = "I reasoned about this."
    good = sim.thinking_signature("anthropic", text)
    forged = sign_thinking(b"not the simulator's key", text)
    for thinking, signature in ((text + "!", good), (text, forged), (text, "")):
        block = {"type": "thinking", "thinking": thinking, "signature": signature}
        turn = {"role": "assistant", "content": [block, {"type": "text", "text": "Hi"}]}
        with pytest.raises(anthropic.BadRequestError) as caught:
            await claude.messages.create(model=MODEL, max_tokens=100, messages=[*USER, turn, *USER])
        assert caught.value.body["error"]["message"] == (
            "messages.1.content.0: Invalid `signature` in `thinking` block"
        )
    block = {"type": "thinking", "thinking": text, "signature": good}
    turn = {"role": "assistant", "content": [block, {"type": "text", "text": "Hi"}]}
    await claude.messages.create(model=MODEL, max_tokens=100, messages=[*USER, turn, *USER])


async def test_providers_with_other_keys_reject_each_other(sim: Simulator):
    """A thinking block signed by one provider fails on a provider with another thinking_key."""
    text = "Thoughts."
    block = {
        "type": "thinking",
        "thinking": text,
        "signature": sim.thinking_signature("other", text),
    }
    turn = {"role": "assistant", "content": [block, {"type": "text", "text": "Hi"}]}
    body = {"model": MODEL, "max_tokens": 100, "messages": [*USER, turn, *USER]}
    status, payload = await _post(sim, body)
    assert status == 400
    assert "Invalid `signature`" in payload["error"]["message"]


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"type": "redacted_thinking", "data": "bm90IG91cnM="},
         "messages.1.content.0: Invalid `data` in `redacted_thinking` block"),
        ({"type": "redacted_thinking"},
         "messages.1.content.0.redacted_thinking.data: Field required"),
        ({"type": "thinking", "thinking": "x"},
         "messages.1.content.0.thinking.signature: Field required"),
    ],
)  # fmt: skip
async def test_bad_replayed_blocks(sim: Simulator, block: dict[str, Any], message: str):
    """Malformed or foreign redacted_thinking and thinking blocks get the real 400 wording."""
    turn = {"role": "assistant", "content": [block, {"type": "text", "text": "Hi"}]}
    status, payload = await _post(
        sim, {"model": MODEL, "max_tokens": 100, "messages": [*USER, turn, *USER]}
    )
    assert (status, payload["error"]["message"]) == (400, message)


async def test_simulator_made_redacted_data_is_accepted(sim: Simulator):
    """Simulator.redacted_thinking_data gives data the provider accepts back."""
    block = {"type": "redacted_thinking", "data": sim.redacted_thinking_data("anthropic")}
    turn = {"role": "assistant", "content": [block, {"type": "text", "text": "Hi"}]}
    status, _ = await _post(
        sim, {"model": MODEL, "max_tokens": 100, "messages": [*USER, turn, *USER]}
    )
    assert status == 200


@pytest.mark.parametrize(
    ("thinking", "extra", "message"),
    [
        ({"type": "enabled", "budget_tokens": 512}, {},
         "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
        ({"type": "enabled", "budget_tokens": 4096}, {},
         ("`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
         "documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
         "#max-tokens-and-context-window-size")),
        ({"type": "enabled"}, {}, "thinking.enabled.budget_tokens: Field required"),
        ({"type": "sometimes"}, {},
         ("thinking: Input tag 'sometimes' found using 'type' does not match any of the expected "
         "tags: 'enabled', 'disabled', 'adaptive', 'between_tools'")),
        (THINK, {"temperature": 0.2},
         "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode."),
    ],
)  # fmt: skip
async def test_thinking_config_validation(
    sim: Simulator, thinking: dict[str, Any], extra: dict[str, Any], message: str
):
    """Budgets below 1024 or not below max_tokens, and bad configs, get the real 400s."""
    body = {"model": MODEL, "max_tokens": 4096, "messages": USER, "thinking": thinking, **extra}
    status, payload = await _post(sim, body)
    assert status == 400
    assert payload["error"] == {"type": "invalid_request_error", "message": message}


async def test_interleaved_beta_allows_a_budget_above_max_tokens(sim: Simulator):
    """With the interleaved-thinking beta, budget_tokens may exceed max_tokens."""
    body = {"model": MODEL, "max_tokens": 2000, "messages": USER,
            "thinking": {"type": "enabled", "budget_tokens": 8000}}  # fmt: skip
    beta = {
        "anthropic-beta": "fine-grained-tool-streaming-2025-05-14,interleaved-thinking-2025-05-14"
    }
    status, payload = await _post(sim, body, beta)
    assert status == 200
    assert payload["content"][0]["type"] == "thinking"


async def test_unknown_fields_and_betas_are_accepted(sim: Simulator):
    """Fields Claude Code sends (context_management, output_config, metadata) are accepted."""
    body = {"model": MODEL, "max_tokens": 4096, "messages": USER, "thinking": THINK,
            "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
            "output_config": {"effort": "high"}, "metadata": {"user_id": "u-1"}}  # fmt: skip
    status, payload = await _post(sim, body, {"anthropic-beta": "context-management-2025-06-27"})
    assert status == 200
    assert payload["content"][0]["type"] == "thinking"
    assert sim.received[-1].body == body
