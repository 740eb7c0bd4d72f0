"""Claude Code's recorded requests, replayed through a running gateway to the simulator.

The fixtures (tests/fixtures/agents/claude_code/, written by
scripts/record_agent_fixtures.py from the real CLI) hold what Claude Code sends; these
tests need no npm. ``make test-agents`` runs the CLI itself (test_claude_code_cli.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.agents import claude_code_stack as cc

from tokenhub.sim import start_simulator
from tokenhub.testing.claude_code import betas
from tokenhub.testing.stack import gateway_stack

NAMES = cc.fixture_names()
REQUESTS = [
    pytest.param(
        name,
        index,
        id=f"{name}-{index}",
    )
    for name in NAMES
    for index, request in enumerate(cc.load_fixture(name)["requests"])
]
EXPECTED_FIELDS = {
    "context_management",
    "max_tokens",
    "messages",
    "metadata",
    "model",
    "output_config",
    "stream",
    "system",
    "thinking",
    "tools",
}


@pytest.fixture
async def stack(tokenhub_home):
    """The gateway, its models named like Claude's, in front of the simulator."""
    async with gateway_stack(cc.scenario(), cc.registry) as stack:
        yield stack


async def replay_all(stack: Any, name: str) -> list[tuple[dict[str, Any], Any]]:
    """Replay every request of a fixture; pair each with what the simulator received."""
    pairs = []
    for request in cc.load_fixture(name)["requests"]:
        await cc.replay(stack.url, request)
        pairs.append((request, stack.sim.received_by(cc.SIM)[-1]))
    return pairs


def test_fixtures_hold_claude_codes_request_shape():
    """Every fixture is a streamed /v1/messages with tools, system, thinking and betas."""
    assert set(NAMES) >= {"say_hi", "say_hi_budget_thinking", "thinking_tool_use"}
    for name in NAMES:
        fixture = cc.load_fixture(name)
        for request in fixture["requests"]:
            assert request["path"] == "/v1/messages?beta=true"
            assert {"system", "tools", "thinking", "metadata", "stream"} <= set(request["body"])
            assert "claude-code-20250219" in betas(request["headers"])
            assert not {"x-api-key", "authorization"} & set(request["headers"])
    say_hi = cc.load_fixture("say_hi")["requests"][0]
    assert set(say_hi["body"]) == EXPECTED_FIELDS
    assert "effort-2025-11-24" in betas(say_hi["headers"])


def test_the_multi_turn_fixture_carries_thinking_and_the_tool_result():
    """The second request holds the signed thinking block, the Read call and its result."""
    first, second = cc.load_fixture("thinking_tool_use")["requests"]
    assert cc.thinking_blocks(first["body"]) == []
    [thinking] = cc.thinking_blocks(second["body"])
    assert thinking["signature"]
    assistant, result = second["body"]["messages"][-2:]
    assert [b["type"] for b in assistant["content"]] == ["thinking", "tool_use"]
    assert assistant["content"][1]["name"] == "Read"
    assert result["content"][0]["type"] == "tool_result"
    assert result["content"][0]["tool_use_id"] == assistant["content"][1]["id"]


@pytest.mark.parametrize("name", NAMES)
async def test_straight_to_the_simulator_the_body_arrives_whole(tokenhub_home, name):
    """The control: replayed to the simulator directly, every body and beta arrives as recorded.

    So a difference through the gateway is the gateway's.
    """
    async with start_simulator(cc.scenario()) as sim:
        for request in cc.load_fixture(name)["requests"]:
            await cc.replay(sim.base_url(cc.SIM), request)
            received = sim.received_by(cc.SIM)[-1]
            assert received.body == request["body"]
            assert betas(received.headers) == betas(request["headers"])


@pytest.mark.parametrize(("name", "index"), REQUESTS)
async def test_the_gateway_answers_with_a_valid_anthropic_message(stack, name, index):
    """Each recorded request gets a streamed message the official SDK assembles."""
    request = cc.load_fixture(name)["requests"][index]
    stack.sim.enqueue(cc.SIM, reply="Hi from the simulator.")
    message = await cc.replay(stack.url, request)
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.model == request["body"]["model"]
    assert message.content[-1].type == "text"
    assert message.content[-1].text == "Hi from the simulator."
    assert message.stop_reason == "end_turn"


@pytest.mark.parametrize("name", NAMES)
async def test_the_upstream_gets_every_body_field(stack, name):
    """The simulator receives the same body fields, and the same thinking and context values."""
    for request, received in await replay_all(stack, name):
        sent = request["body"]
        assert set(received.body) == set(sent)
        for field in ("thinking", "context_management", "output_config", "metadata"):
            assert received.body.get(field) == sent.get(field)


@pytest.mark.parametrize("name", NAMES)
async def test_the_upstream_gets_the_same_betas(stack, name):
    """The simulator receives Claude Code's ``anthropic-beta`` list, in order."""
    for request, received in await replay_all(stack, name):
        assert betas(received.headers) == betas(request["headers"])


async def test_thinking_blocks_reach_the_upstream_byte_for_byte(stack):
    """The multi-turn's signed thinking block arrives exactly as Claude Code sent it."""
    _, (request, received) = await replay_all(stack, "thinking_tool_use")
    sent = cc.thinking_blocks(request["body"])
    assert sent
    assert json.dumps(cc.thinking_blocks(received.body)) == json.dumps(sent)
