"""The gateway and simulator Claude Code's recorded requests are replayed through.

Tokenhub's model ids are the upstream's own Claude model names: Claude Code decides its
body fields and betas from the model name it is given, so the name it sees through
tokenhub must be the one it sees talking to the simulator directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anthropic
from anthropic.types.beta import BetaMessage
from tests.server.routing_stack import model

from tokenhub.sim import ModelSpec, ProviderSpec, Scenario
from tokenhub.testing.claude_code import THINKING_KEY, betas
from tokenhub.testing.stack import provider_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "agents" / "claude_code"
MODELS = ("claude-sonnet-4-6", "claude-sonnet-4-5")
SIM = "an"
SDK_HEADERS = frozenset({"accept", "content-type", "anthropic-version", "anthropic-beta"})
"""Headers the SDK sets itself (the rest of a fixture's headers go as extra headers)."""


def fixture_names() -> list[str]:
    """Every recorded fixture, by file stem."""
    return sorted(p.stem for p in FIXTURES.glob("*.json"))


def load_fixture(name: str) -> dict[str, Any]:
    """The recorded fixture ``NAME.json``."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def scenario() -> Scenario:
    """One Anthropic provider serving the Claude models the fixtures name."""
    specs = tuple(
        ModelSpec(id=m, context_window=200_000, max_output_tokens=64_000, output_tokens=8)
        for m in MODELS
    )
    provider = ProviderSpec(name=SIM, type="anthropic", models=specs, thinking_key=THINKING_KEY)
    return Scenario(seed=5, providers=(provider,))


def registry(sim: Any) -> tuple[list[Any], list[Any]]:
    """Tokenhub models named as Claude Code names them, each on the same upstream model."""
    providers = [provider_for(sim, SIM, timeout_s=10)]
    models = [model(m, SIM, m, max_context_tokens=200_000) for m in MODELS]
    return providers, models


async def replay(base_url: str, request: dict[str, Any]) -> BetaMessage:
    """Send one recorded request with the official SDK, as Claude Code (which uses it) did.

    The beta list goes as ``betas`` and the other recorded headers as extra headers; the
    streamed answer is validated and assembled by the SDK into a message.
    """
    body = {k: v for k, v in request["body"].items() if k != "stream"}
    headers = {k: v for k, v in request["headers"].items() if k not in SDK_HEADERS}
    async with (
        anthropic.AsyncAnthropic(base_url=base_url, api_key="unused", max_retries=0) as client,
        client.beta.messages.stream(
            **body, betas=betas(request["headers"]), extra_headers=headers
        ) as stream,
    ):
        return await stream.get_final_message()


def thinking_blocks(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every ``thinking`` block in the assistant turns of a Messages body, in order."""
    return [
        block
        for message in body["messages"]
        if message["role"] == "assistant" and isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") in ("thinking", "redacted_thinking")
    ]
