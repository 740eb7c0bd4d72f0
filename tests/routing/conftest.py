"""Registry, health and router builders for routing tests."""

from __future__ import annotations

import random

import pytest

from tokenhub.clock import FakeClock
from tokenhub.config import HealthSettings
from tokenhub.registry import Registry
from tokenhub.routing.health import HealthTracker
from tokenhub.routing.router import Router
from tokenhub.schemas import ModelConfig, ProviderConfig


def provider(pid: str, **kw) -> ProviderConfig:
    """A provider config with a placeholder URL."""
    return ProviderConfig(
        id=pid, type=kw.pop("type", "openai"), base_url="http://127.0.0.1:9/v1", **kw
    )


def model(mid: str, pid: str = "p1", **kw) -> ModelConfig:
    """A model config with cheap defaults."""
    defaults = {
        "weight": 5,
        "max_context_tokens": 8000,
        "input_usd_per_mtok": 1.0,
        "output_usd_per_mtok": 2.0,
        "expected_latency_ms": 500,
        "capabilities": ["tools"],
    }
    return ModelConfig(id=mid, provider=pid, **{**defaults, **kw})


def make_registry(providers, models) -> Registry:
    """A registry holding the given API entries."""
    registry = Registry()
    registry.load([], [], list(providers), list(models))
    return registry


@pytest.fixture
def clock() -> FakeClock:
    """A hand-driven clock."""
    return FakeClock()


@pytest.fixture
def health(clock) -> HealthTracker:
    """A health tracker on the fake clock."""
    return HealthTracker(clock, HealthSettings())


def make_router(registry: Registry, health: HealthTracker, seed: int = 7) -> Router:
    """A router with a seeded RNG."""
    return Router(registry, health, random.Random(seed))


def no_credential_problem(_provider) -> None:
    """Every credential is available."""
    return
