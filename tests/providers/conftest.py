"""Fixtures for the adapter tests: a simulator on port 0, a client, adapters built on both."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable

import pytest
from tests.providers.support import ADAPTERS, RecordingSleep, scenario

from tokenhub.clock import Clock, FakeClock, SystemClock
from tokenhub.providers.adapter import HttpAdapter
from tokenhub.providers.endpoints import HealthPolicy
from tokenhub.providers.http import RetryPolicy
from tokenhub.providers.transport import UpstreamClient
from tokenhub.schemas import ProviderConfig
from tokenhub.sim import Simulator, start_simulator


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """The adapter-test scenario served on a free loopback port."""
    async with start_simulator(scenario()) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    """One upstream client for the test's adapters, closed after the test."""
    upstream = UpstreamClient()
    try:
        yield upstream
    finally:
        await upstream.close()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when told to."""
    return FakeClock()


@pytest.fixture
def sleeps(fake_clock: FakeClock) -> RecordingSleep:
    """Backoff sleeps recorded against the fake clock."""
    return RecordingSleep(fake_clock)


AdapterFactory = Callable[..., HttpAdapter]


@pytest.fixture
def make_adapter(sim: Simulator, client: UpstreamClient, sleeps: RecordingSleep) -> AdapterFactory:
    """Build an adapter for simulated providers; keyword arguments tune it."""

    def build(
        kind: str,
        *names: str,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        health: HealthPolicy | None = None,
        headers: dict[str, str] | None = None,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> HttpAdapter:
        urls = [sim.base_url(n) for n in names or (kind,)]
        config = ProviderConfig(
            id=names[0] if names else kind,
            type=kind,
            base_url=base_url or (urls[0] if len(urls) == 1 else None),
            base_urls=[] if base_url or len(urls) == 1 else urls,
            headers=headers or {},
            timeout_s=timeout_s,
        )
        return ADAPTERS[kind](
            config,
            client,
            clock or sleeps.clock,
            policy=policy or RetryPolicy(),
            health=health or HealthPolicy(),
            sleep=sleeps,
            rng=rng or random.Random(7),
        )

    return build


@pytest.fixture
def real_clock() -> SystemClock:
    """The system clock, for tests that measure real waiting."""
    return SystemClock()
