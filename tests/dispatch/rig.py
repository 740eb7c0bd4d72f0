"""An executor over the fake adapters (fakes.py), and the requests tests send it.

``make_rig`` builds the executor as the gateway does, over a real ``Router``,
``CachedRouter`` and ``HealthTracker`` on a small ``Registry`` and a ``FakeClock``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.dispatch.fakes import FakeSource
from tests.routing.conftest import make_registry, model, provider

from tokenhub.clock import FakeClock
from tokenhub.config import HealthSettings
from tokenhub.dispatch.executor import Completed, Executor, Opened
from tokenhub.registry import Registry
from tokenhub.routing.cache import CachedRouter
from tokenhub.routing.health import HealthTracker
from tokenhub.routing.policy import RoutingSettings
from tokenhub.routing.router import Router, RouteRequest, model_ids
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, Message, TextPart

__all__ = ["Rig", "chat", "make_rig", "model", "provider", "route"]


def route(
    input_tokens: int = 100, output_tokens: int = 100, mode: str = "normal", **kw
) -> RouteRequest:
    """A route request with small token counts; keywords set its other fields."""
    return RouteRequest(input_tokens, output_tokens, mode, **kw)


def chat(text: str = "hi") -> ChatRequest:
    """A one-message chat request."""
    return ChatRequest("auto", [Message("user", [TextPart(text)])])


@dataclass
class Rig:
    """An executor over fake adapters, with what a test needs to drive and inspect it."""

    executor: Executor
    source: FakeSource
    clock: FakeClock
    health: HealthTracker
    registry: Registry
    settings: RoutingSettings = field(default_factory=lambda: RoutingSettings(selection_margin=0))

    async def complete(
        self, request: RouteRequest | None = None, settings: RoutingSettings | None = None
    ) -> Completed:
        """Run a non-streaming request through the executor."""
        return await self.executor.complete(
            chat(), request or route(), settings or self.settings, {}
        )

    async def open_stream(
        self, request: RouteRequest | None = None, settings: RoutingSettings | None = None
    ) -> Opened:
        """Open a stream through the executor."""
        return await self.executor.open_stream(
            chat(), request or route(), settings or self.settings, {}
        )

    def ranked(self, request: RouteRequest | None = None) -> list[str]:
        """The router's order for ``request`` now, without calling anything."""
        decision = self.executor.router.route(
            request or route(),
            self.settings,
            self.source.credential_problem,
            self.source.credentials_version(),
        )
        return model_ids(decision.ranked)


def make_rig(
    models: Sequence[ModelConfig],
    providers: Sequence[ProviderConfig] | None = None,
    *,
    settings: RoutingSettings | None = None,
    health: HealthSettings | None = None,
    seed: int = 7,
) -> Rig:
    """An executor over ``models`` (providers default to one per provider id named).

    Routing settings default to ``selection_margin=0``: the best score always goes first,
    so a test's order follows from the models' weights and prices alone.
    """
    if providers is None:
        providers = [provider(pid) for pid in dict.fromkeys(m.provider for m in models)]
    clock = FakeClock()
    registry = make_registry(providers, models)
    tracker = HealthTracker(clock, health or HealthSettings())
    router = CachedRouter(Router(registry, tracker, random.Random(seed)))
    source = FakeSource(registry, clock)
    executor = Executor(router, tracker, source, clock)
    rig = Rig(executor, source, clock, tracker, registry)
    if settings is not None:
        rig.settings = settings
    return rig
