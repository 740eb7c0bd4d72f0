"""Fixtures for the simulator tests: a running default simulator and SDK clients for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import openai
import pytest

from tokenhub.sim import Simulator, default_scenario, start_simulator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """The default scenario served on a free loopback port."""
    async with start_simulator(default_scenario()) as running:
        yield running


@pytest.fixture
async def oai(sim: Simulator) -> AsyncIterator[openai.AsyncOpenAI]:
    """An OpenAI SDK client for the default scenario's openai provider, without retries."""
    async with openai.AsyncOpenAI(
        base_url=sim.base_url("openai"), api_key="sk-test", max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def claude(sim: Simulator) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """An Anthropic SDK client for the default scenario's anthropic provider, without retries."""
    async with anthropic.AsyncAnthropic(
        base_url=sim.base_url("anthropic"), api_key="sk-ant-test", max_retries=0
    ) as client:
        yield client
