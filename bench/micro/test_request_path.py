"""Microbenchmarks of a request's own bookkeeping around the upstream call (pytest-benchmark).

The executor over 20 models with an adapter that answers at once, the health record of a
success, and the budget hold and its settlement: the per-request work issue 17's
reliability features added. Run with `make bench-micro`; figures in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import random
from collections.abc import Coroutine, Hashable
from typing import Any, ClassVar, TypeVar

from tokenhub.auth.apikeys import ApiKey
from tokenhub.auth.spend import SpendLedger
from tokenhub.clock import SystemClock
from tokenhub.config import HealthSettings
from tokenhub.dispatch.executor import Executor
from tokenhub.providers.base import CallOptions, CallResult, ProviderAdapter
from tokenhub.registry import Registry
from tokenhub.routing.cache import CachedRouter
from tokenhub.routing.health import HealthTracker
from tokenhub.routing.policy import RoutingSettings
from tokenhub.routing.router import Router, RouteRequest
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, ChatResponse, Message, TextPart, Usage

N_MODELS = 20
T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never suspends to its end, without an event loop.

    An event loop's own cost per run (tens of µs) would hide the executor's.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]  # StopIteration.value is Any
    coro.close()
    raise RuntimeError("the coroutine suspended")


class InstantAdapter:
    """An adapter that answers every call at once with the same response."""

    honours_deadline: ClassVar[bool] = True

    def __init__(self) -> None:
        message = Message("assistant", [TextPart("hello")])
        self.result = CallResult(
            ChatResponse("r", "m", message, "stop", Usage(30, 20)), "fake", 0.05
        )

    async def complete(
        self, request: ChatRequest, model: ModelConfig, options: CallOptions
    ) -> CallResult:
        """The prepared answer."""
        del request, model, options
        return self.result


class InstantSource:
    """The executor's adapter source over a registry: one instant adapter, no credentials."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._adapter = InstantAdapter()

    def adapter(self, provider_id: str) -> ProviderAdapter:
        """The one instant adapter."""
        del provider_id
        return self._adapter  # type: ignore[return-value]  # only complete() is called

    def credential_problem(self, provider: ProviderConfig) -> str | None:
        """Every credential is fine."""
        del provider
        return None

    def api_key(self, provider: ProviderConfig) -> str | None:
        """A fixed key."""
        del provider
        return "key"

    def provider(self, provider_id: str) -> ProviderConfig:
        """The provider's configuration."""
        return self.registry.provider(provider_id).config

    def credentials_version(self) -> Hashable:
        """Never changes."""
        return 0


def registry_of(n: int) -> Registry:
    """``n`` models on four providers, with the benchmark config's spread of weights."""
    providers = [
        ProviderConfig(id=f"p{i}", type="openai", base_url="http://127.0.0.1:9/v1")
        for i in range(4)
    ]
    rng = random.Random(1)
    models = [
        ModelConfig(
            id=f"m{i:02d}",
            provider=f"p{i % 4}",
            weight=rng.randint(2, 10),
            max_context_tokens=128000,
            input_usd_per_mtok=rng.uniform(0.05, 15),
            output_usd_per_mtok=rng.uniform(0.08, 75),
            expected_latency_ms=rng.uniform(300, 3000),
        )
        for i in range(n)
    ]
    registry = Registry()
    registry.load([], [], providers, models)
    return registry


def test_executor_complete(benchmark):
    """One non-streaming request through the executor over 20 models, answered at once."""
    registry = registry_of(N_MODELS)
    clock = SystemClock()
    health = HealthTracker(clock, HealthSettings())
    router = CachedRouter(Router(registry, health, random.Random(3)))
    executor = Executor(router, health, InstantSource(registry), clock)
    request = ChatRequest("auto", [Message("user", [TextPart("hi")])])
    route = RouteRequest(input_tokens=30, output_tokens=64, mode="normal")
    settings = RoutingSettings()
    assert run_sync(executor.complete(request, route, settings, {})).response.message
    benchmark(lambda: run_sync(executor.complete(request, route, settings, {})))


def test_health_success(benchmark):
    """Recording one successful call of a model (its provider's record and its own)."""
    health = HealthTracker(SystemClock(), HealthSettings())
    benchmark(health.success, "p0", "m00", 0.05)


def test_budget_hold_and_settle(benchmark):
    """A request's budget hold taken and settled to its real cost."""
    ledger = SpendLedger(SystemClock())
    key = ApiKey("k1", "bench", "th-k1", "hash", ["chat"], budget_usd=1e9, budget_period="day")

    def hold_and_settle() -> None:
        ledger.finish(key, ledger.reserve(key, 0.0001), 0.00005)

    benchmark(hold_and_settle)
