"""The real Claude Code CLI (``claude -p``) through a running gateway, against the simulator.

Marked ``agents``: deselected by default, run by ``make test-agents``, which installs
``@anthropic-ai/claude-code`` from npm (about 240 MB) into ``.cache/agents`` first.
Each test runs Claude Code twice, straight to the simulator and through tokenhub, and
compares what the simulator received.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.agents import claude_code_stack as cc

from tokenhub.sim import ReceivedRequest
from tokenhub.testing.claude_code import (
    ClaudeRun,
    betas,
    claude_env,
    default_cache,
    find_claude,
    run_claude,
)
from tokenhub.testing.stack import Stack, gateway_stack

pytestmark = pytest.mark.agents

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = find_claude(default_cache(ROOT))
"""Looked up at import: the autouse fixture clears ``TOKENHUB_*`` variables before tests."""

MODEL = cc.MODELS[0]


@dataclass
class Sent:
    """One ``claude -p`` run and the /v1/messages requests the simulator received from it."""

    run: ClaudeRun
    requests: list[ReceivedRequest]


@pytest.fixture
def claude() -> Path:
    """The installed ``claude`` executable (``make test-agents`` installs it)."""
    if CLAUDE is None:
        pytest.fail(f"Claude Code is not installed under {default_cache(ROOT)}: make test-agents")
    return CLAUDE


@pytest.fixture
async def stack(tokenhub_home):
    """The gateway, its models named like Claude's, in front of the simulator."""
    async with gateway_stack(cc.scenario(), cc.registry) as stack:
        yield stack


async def ask(
    claude: Path, stack: Stack, base_url: str, folder: Path, prompt: str, answers: list[Any]
) -> Sent:
    """Run ``claude -p PROMPT`` at ``base_url``; the simulator gives ``answers`` in order.

    An answer is reply text, or a list of tool calls.
    """
    for answer in answers:
        if isinstance(answer, str):
            stack.sim.enqueue(cc.SIM, MODEL, reply=answer)
        else:
            stack.sim.enqueue(cc.SIM, MODEL, tool_calls=answer)
    home, cwd = folder / "home", folder / "project"
    home.mkdir(parents=True)
    cwd.mkdir()
    (cwd / "notes.txt").write_text("hello from the agents test\n", encoding="utf-8")
    before = len(stack.sim.received_by(cc.SIM))
    run = await run_claude(claude, prompt, claude_env(base_url, MODEL, home, "unused"), cwd)
    received = stack.sim.received_by(cc.SIM)[before:]
    return Sent(run, [r for r in received if r.path.endswith("/v1/messages")])


async def both_ways(
    claude: Path, stack: Stack, folder: Path, prompt: str, answers: list[Any]
) -> tuple[Sent, Sent]:
    """The same prompt and answers straight to the simulator, then through tokenhub."""
    direct = await ask(claude, stack, stack.sim.base_url(cc.SIM), folder / "d", prompt, answers)
    through = await ask(claude, stack, stack.url, folder / "t", prompt, answers)
    return direct, through


def answered(sent: Sent, text: str) -> bool:
    """Claude Code exited cleanly and printed ``text``."""
    return sent.run.returncode == 0 and text in sent.run.stdout


async def test_claude_code_answers_through_tokenhub(claude, stack, tmp_path):
    """``claude -p`` through tokenhub prints the simulator's answer, as it does directly."""
    direct, through = await both_ways(claude, stack, tmp_path, "say hi", ["Hi there, agent."])
    assert answered(direct, "Hi there, agent."), direct.run
    assert answered(through, "Hi there, agent."), through.run
    assert len(through.requests) == len(direct.requests) == 1


async def test_claude_code_runs_a_tool_through_tokenhub(claude, stack, tmp_path):
    """A ``Read`` tool_use reaches Claude Code, which sends the tool_result back and answers."""
    read = [{"name": "Read", "arguments": {"file_path": str(tmp_path / "t/project/notes.txt")}}]
    _, through = await both_ways(
        claude, stack, tmp_path, "What does notes.txt say?", [read, "It says hello."]
    )
    assert answered(through, "It says hello."), through.run
    _, second = through.requests
    result = second.body["messages"][-1]["content"][0]
    assert result["type"] == "tool_result"
    assert "hello from the agents test" in str(result["content"])


async def test_the_upstream_gets_what_claude_code_sends_directly(claude, stack, tmp_path):
    """Through tokenhub the simulator receives the same body fields and betas as directly."""
    direct, through = await both_ways(claude, stack, tmp_path, "say hi", ["Hi."])
    assert answered(through, "Hi.")
    for mine, theirs in zip(through.requests, direct.requests, strict=True):
        assert set(mine.body) == set(theirs.body)
        for field in ("thinking", "context_management", "output_config"):
            assert mine.body.get(field) == theirs.body.get(field)
        assert betas(mine.headers) == betas(theirs.headers)
