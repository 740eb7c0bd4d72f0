"""Fixtures for server tests: an app alone, or an app routed to a running simulator."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tokenhub.config import load_settings
from tokenhub.server.app import create_app
from tokenhub.testing.stack import gateway_stack

from . import routing_stack


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Settings a test module may override (as if given as CLI flags)."""
    return {}


@pytest.fixture
async def client(tokenhub_home, settings_overrides):
    """A test client for a fully started app (migrations applied, writer running)."""
    app = create_app(load_settings(settings_overrides))
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
async def stack(tokenhub_home):
    """The gateway routed to a simulator with four models on three providers."""
    async with gateway_stack(routing_stack.scenario(), routing_stack.registry) as stack:
        yield stack


@pytest.fixture
async def oai(stack):
    """An unmodified AsyncOpenAI client pointed at the gateway (no SDK retries)."""
    import openai

    async with openai.AsyncOpenAI(
        base_url=f"{stack.url}/v1", api_key="unused", max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def claude(stack):
    """An unmodified AsyncAnthropic client pointed at the gateway (no SDK retries)."""
    import anthropic

    async with anthropic.AsyncAnthropic(
        base_url=stack.url, api_key="unused", max_retries=0
    ) as client:
        yield client
