"""Microbenchmarks of the routing hot path (pytest-benchmark; not part of `make test`).

Run with `make bench-micro`. The figures are reported in docs/ROUTING.md.
"""

from __future__ import annotations

import random

import pytest

from tokenhub.clock import SystemClock
from tokenhub.config import HealthSettings
from tokenhub.registry import Registry
from tokenhub.routing.estimate import estimate_input_tokens
from tokenhub.routing.health import HealthTracker
from tokenhub.routing.policy import RoutingSettings
from tokenhub.routing.router import Router, RouteRequest
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, Message, TextPart

N_MODELS = 100


def registry_of(n: int) -> Registry:
    providers = [
        ProviderConfig(id=f"p{i}", type="openai", base_url="http://127.0.0.1:9/v1")
        for i in range(10)
    ]
    rng = random.Random(1)
    models = [
        ModelConfig(
            id=f"m{i:03d}",
            provider=f"p{i % 10}",
            weight=rng.randint(1, 10),
            max_context_tokens=rng.choice([8192, 32768, 128000, 200000]),
            input_usd_per_mtok=rng.uniform(0.1, 15),
            output_usd_per_mtok=rng.uniform(0.2, 60),
            expected_latency_ms=rng.uniform(200, 3000),
            capabilities=["tools"],
        )
        for i in range(n)
    ]
    registry = Registry()
    registry.load([], [], providers, models)
    return registry


@pytest.mark.parametrize("mode", ["normal", "cheap"])
def test_route_100_eligible_models(benchmark, mode):
    """One routing decision over 100 eligible models (target: p50 < 100 µs)."""
    registry = registry_of(N_MODELS)
    health = HealthTracker(SystemClock(), HealthSettings())
    router = Router(registry, health, random.Random(3))
    settings = RoutingSettings()
    request = RouteRequest(input_tokens=500, output_tokens=500, mode=mode)
    decision = router.route(request, settings, lambda _p: None)
    assert len(decision.ranked) == N_MODELS
    benchmark(router.route, request, settings, lambda _p: None)


def test_estimate_tokens(benchmark):
    """Token estimation of a 10-message conversation."""
    messages = [
        Message("user" if i % 2 == 0 else "assistant", [TextPart("hello " * 50)]) for i in range(10)
    ]
    req = ChatRequest(model="auto", messages=messages)
    benchmark(estimate_input_tokens, req)
