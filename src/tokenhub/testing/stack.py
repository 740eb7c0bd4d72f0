"""A gateway wired to a running simulator, in-process: the fixture most API tests use."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from tokenhub.clock import Clock
from tokenhub.config import LoadedSettings, load_settings
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.server.app import create_app
from tokenhub.server.app_keys import GATEWAY
from tokenhub.sim import Scenario, Simulator, start_simulator
from tokenhub.testing.inprocess import run_app


@dataclass
class Stack:
    """The simulator, the app, a TCP client session and an admin session (Unix socket)."""

    sim: Simulator
    app: web.Application
    client: aiohttp.ClientSession
    admin: aiohttp.ClientSession
    url: str

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
        rng = random.Random(seed)  # noqa: S311 - reproducible traffic spreading in tests
        app = create_app(loaded, rng=rng, environ=environ or {}, clock=clock)
        async with (
            run_app(loaded, app) as running,
            running.tcp_session() as client,
            running.unix_session() as admin,
        ):
            yield Stack(sim, app, client, admin, running.url)


def _settings(
    providers: Sequence[ProviderConfig], models: Sequence[ModelConfig], extra: Mapping[str, Any]
) -> LoadedSettings:
    loaded = load_settings(dict(extra))
    loaded.settings = loaded.settings.model_copy(
        update={"providers": list(providers), "models": list(models)}
    )
    return loaded
