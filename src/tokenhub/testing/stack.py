"""A gateway wired to a running simulator, in-process: the fixture most API tests use."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from tokenhub.clock import Clock
from tokenhub.config import LoadedSettings, load_settings
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.server.app import create_app
from tokenhub.server.keys import GATEWAY
from tokenhub.sim import Scenario, Simulator, start_simulator


@dataclass
class Stack:
    """The simulator, the app and a test client for it."""

    sim: Simulator
    app: web.Application
    client: TestClient[web.Request, web.Application]

    @property
    def url(self) -> str:
        """The gateway's base URL (``.../v1`` is the OpenAI SDK base_url)."""
        return str(self.client.make_url("")).rstrip("/")

    @property
    def gateway(self) -> Any:
        """The app's Gateway."""
        return self.app[GATEWAY]


def provider_for(
    sim: Simulator, sim_name: str, provider_id: str | None = None, **kw: Any
) -> ProviderConfig:
    """A provider config pointing at one simulated provider."""
    kind = next(p.type for p in sim.scenario.providers if p.name == sim_name)
    return ProviderConfig.model_validate(
        {"id": provider_id or sim_name, "type": kind, "base_url": sim.base_url(sim_name), **kw}
    )


@asynccontextmanager
async def gateway_stack(
    scenario: Scenario,
    registry: Any,
    *,
    settings: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    seed: int = 0,
) -> AsyncIterator[Stack]:
    """Start ``scenario``, then the app with providers and models from ``registry(sim)``.

    ``registry`` is a callable taking the running simulator and returning
    ``(providers, models)`` so configs can use the simulator's port.
    """
    async with start_simulator(scenario) as sim:
        providers, models = registry(sim)
        loaded = _settings(providers, models, settings or {})
        rng = random.Random(seed)  # noqa: S311 (reproducible traffic spreading in tests)
        app = create_app(loaded, rng=rng, environ=environ or {}, clock=clock)
        async with TestClient(TestServer(app)) as client:
            yield Stack(sim, app, client)


def _settings(
    providers: Sequence[ProviderConfig], models: Sequence[ModelConfig], extra: Mapping[str, Any]
) -> LoadedSettings:
    loaded = load_settings(dict(extra))
    loaded.settings = loaded.settings.model_copy(
        update={"providers": list(providers), "models": list(models)}
    )
    return loaded
