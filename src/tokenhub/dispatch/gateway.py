"""The gateway: registry, health, router, adapters and routing settings behind one object.

Handlers call it; it persists registry changes, keeps the adapter pool in step with the
registry, turns a canonical request plus policy into a route request, and executes it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Hashable

from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.clock import Clock
from tokenhub.dispatch.cost import estimate_of
from tokenhub.dispatch.credentials import Credentials
from tokenhub.dispatch.executor import Completed, Executor, Opened
from tokenhub.dispatch.observe import ExecutionObserver
from tokenhub.errors import (
    ForbiddenError,
    InvalidRequestError,
    ModelNotFoundError,
    TokenhubError,
)
from tokenhub.observability.events import EventBus
from tokenhub.observability.metrics import Metrics
from tokenhub.observability.tracing import Tracing
from tokenhub.providers.base import CallOptions, ProviderAdapter
from tokenhub.providers.kinds import ProviderKinds
from tokenhub.providers.pool import ProviderPool
from tokenhub.registry import Registry
from tokenhub.routing.cache import CachedRouter
from tokenhub.routing.estimate import estimate_input_tokens
from tokenhub.routing.health import HealthTracker
from tokenhub.routing.policy import Policy, RoutingSettings, target_mode
from tokenhub.routing.router import Decision, Router, RouteRequest
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.store import registry_store
from tokenhub.types import ChatRequest

log = logging.getLogger("tokenhub.gateway")
PROBE_TIMEOUT_S = 5.0


class Gateway:
    """Everything a request or an admin change needs, in one place."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        kinds: ProviderKinds,
        pool: ProviderPool,
        health: HealthTracker,
        credentials: Credentials,
        clock: Clock,
        rng: random.Random,
        metrics: Metrics | None = None,
        events: EventBus | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.engine = engine
        self.kinds = kinds
        self.pool = pool
        self.health = health
        self.credentials = credentials
        self.clock = clock
        self.registry = Registry()
        self.router = Router(self.registry, health, rng)
        self.routing = RoutingSettings()
        self.events = events
        observer = ExecutionObserver(metrics, events, health)
        self.cached_router = CachedRouter(self.router)
        self.executor = Executor(self.cached_router, health, self, clock, observer, tracing)

    # -- loading -------------------------------------------------------------------------

    async def load(
        self, config_providers: list[ProviderConfig], config_models: list[ModelConfig]
    ) -> None:
        """Load the registry from the config file and the store, and start the adapters."""
        for provider in config_providers:
            self.kinds.check(provider.type)
        stored_providers, stored_models = await registry_store.load_registry(self.engine)
        for warning in self.registry.load(
            config_providers, config_models, stored_providers, stored_models
        ):
            log.warning(warning)
        stored_routing = await registry_store.load_routing(self.engine)
        if stored_routing is not None:
            self.routing = RoutingSettings.model_validate(stored_routing)
        await self._sync_pool()

    async def _sync_pool(self) -> None:
        await self.pool.sync([entry.config for entry in self.registry.providers.values()])

    # -- AdapterSource -------------------------------------------------------------------

    def adapter(self, provider_id: str) -> ProviderAdapter:
        """The live adapter of a provider."""
        return self.pool.get(provider_id)

    def credential_problem(self, provider: ProviderConfig) -> str | None:
        """Why the provider's credential is unusable, or None."""
        return self.credentials.problem(provider)

    def api_key(self, provider: ProviderConfig) -> str | None:
        """The key to send to the provider."""
        return self.credentials.key(provider)

    def provider(self, provider_id: str) -> ProviderConfig:
        """A provider's configuration."""
        return self.registry.provider(provider_id).config

    def credentials_version(self) -> Hashable:
        """Changes whenever a credential's availability can have changed (the vault)."""
        return self.credentials.version()

    # -- registry changes ----------------------------------------------------------------

    async def add_provider(self, config: ProviderConfig) -> None:
        """Create a provider (409 if the id exists)."""
        self.kinds.check(config.type)
        self.pool.check(config)
        self.registry.check_new_provider(config)
        await registry_store.save_provider(self.engine, config, self.clock.time())
        self.registry.put_provider(config)
        await self._sync_pool()

    async def replace_provider(self, config: ProviderConfig) -> None:
        """Replace a provider declared through the API; its health starts afresh."""
        entry = self.registry.provider(config.id)
        self.registry.check_editable(entry, f"provider '{config.id}'")
        self.kinds.check(config.type)
        self.pool.check(config)
        await registry_store.save_provider(self.engine, config, self.clock.time())
        self.registry.put_provider(config)
        self.health.reset_provider(config.id)
        await self._sync_pool()

    async def remove_provider(self, provider_id: str) -> None:
        """Delete a provider that no model uses."""
        entry = self.registry.provider(provider_id)
        self.registry.check_editable(entry, f"provider '{provider_id}'")
        self.registry.remove_provider(provider_id)
        await registry_store.delete_provider(self.engine, provider_id)
        await self._sync_pool()

    async def add_model(self, config: ModelConfig) -> None:
        """Create a model (409 if the id exists, 400 if its provider does not)."""
        self.registry.check_model(config)
        await registry_store.save_model(self.engine, config, self.clock.time())
        self.registry.put_model(config)

    async def replace_model(self, config: ModelConfig) -> None:
        """Replace a model declared through the API."""
        entry = self.registry.model(config.id)
        self.registry.check_editable(entry, f"model '{config.id}'")
        self.registry.check_model(config, replacing=config.id)
        await registry_store.save_model(self.engine, config, self.clock.time())
        self.registry.put_model(config)

    async def remove_model(self, model_id: str) -> None:
        """Delete a model declared through the API."""
        entry = self.registry.model(model_id)
        self.registry.check_editable(entry, f"model '{model_id}'")
        self.registry.remove_model(model_id)
        await registry_store.delete_model(self.engine, model_id)

    async def set_routing(self, settings: RoutingSettings) -> None:
        """Persist and apply new routing settings."""
        await registry_store.save_routing(
            self.engine, settings.model_dump(mode="json"), self.clock.time()
        )
        self.routing = settings

    # -- active probes -------------------------------------------------------------------

    async def probe_endpoints(self) -> int:
        """Probe every endpoint of enabled vLLM and multi-endpoint providers; return how many."""
        probed = 0
        for entry in list(self.registry.providers.values()):
            config = entry.config
            if not config.enabled or (config.type != "vllm" and len(config.urls) < 2):  # noqa: PLR2004 - two URLs are what make a provider multi-endpoint
                continue
            if self.credentials.problem(config) is not None:
                continue
            deadline = self.clock.monotonic() + min(config.timeout_s, PROBE_TIMEOUT_S)
            options = CallOptions(deadline, self.credentials.key(config), max_retries=0)
            states = await self.pool.get(config.id).probe(options)
            probed += len(states)
        return probed

    async def probe_forever(self, interval_s: float) -> None:
        """Probe endpoints every ``interval_s`` seconds until cancelled."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.probe_endpoints()
            except TokenhubError as exc:
                log.warning("endpoint probe failed", extra={"error": exc.message})

    # -- requests ------------------------------------------------------------------------

    def route_request(
        self,
        request: ChatRequest,
        policy: Policy,
        *,
        allowed_models: frozenset[str] | None = None,
        estimated_input_tokens: int | None = None,
    ) -> RouteRequest:
        """Resolve ``request.model`` (model, alias or routing target) and the policy."""
        settings = self.routing
        mode = target_mode(request.model, settings)
        only: frozenset[str] | None = None
        if mode is None:
            resolved = self.registry.resolve(request.model)
            if not resolved:
                raise ModelNotFoundError(
                    f"model '{request.model}' is not a model, alias or routing target;"
                    " GET /v1/models lists them"
                )
            only = frozenset(m.id for m in resolved)
            if allowed_models is not None and not only & allowed_models:
                raise ForbiddenError(f"this API key may not use model '{request.model}'")
            mode = policy.mode or settings.default_mode
        elif policy.mode is not None:
            mode = policy.mode
        if mode not in settings.profiles:
            raise InvalidRequestError(
                f"unknown routing mode '{mode}' (known: {', '.join(sorted(settings.profiles))})",
                param="tokenhub.mode",
            )
        estimate = estimate_input_tokens(request)
        if estimated_input_tokens is not None:
            estimate = max(estimate, estimated_input_tokens)
        return RouteRequest(
            input_tokens=estimate,
            output_tokens=request.max_tokens or settings.default_output_tokens,
            mode=mode,
            capabilities=frozenset(policy.capabilities) | _implied_capabilities(request),
            max_budget_usd=policy.max_budget_usd,
            max_latency_ms=policy.max_latency_ms,
            min_weight=policy.min_weight,
            only_models=only,
            allowed_models=allowed_models,
        )

    def decide(self, route: RouteRequest) -> Decision:
        """Rank the models without calling any (``route test``)."""
        return self.router.route(route, self.routing, self.credential_problem)

    def estimate_cost(self, route: RouteRequest) -> float:
        """What the request would cost on the best-scored model, in USD.

        The request's own input estimate (not the scoring cache's, rounded up to 64 tokens)
        and its output reservation at that model's prices: it errs high, as the estimate
        does, but no higher. 0 when no model is eligible (the executor then says why). The
        scoring is cached, so the executor's first attempt reuses it.
        """
        scored = self.cached_router.scored(
            route, self.routing, self.credential_problem, self.credentials_version()
        )
        if not scored.ranked:
            return 0.0
        return estimate_of(scored.ranked[0].model, route.input_tokens, route.output_tokens)

    async def complete(
        self, request: ChatRequest, route: RouteRequest, headers: dict[str, str]
    ) -> Completed:
        """Execute a non-streaming request with failover."""
        return await self.executor.complete(request, route, self.routing, headers)

    async def open_stream(
        self, request: ChatRequest, route: RouteRequest, headers: dict[str, str]
    ) -> Opened:
        """Open a stream with failover until its first event."""
        return await self.executor.open_stream(request, route, self.routing, headers)


def _implied_capabilities(request: ChatRequest) -> frozenset[str]:
    caps: set[str] = set()
    if request.tools:
        caps.add("tools")
    if request.response_format is not None and request.response_format.type != "text":
        caps.add("json")
    if any(p.type == "image" for m in request.messages for p in m.content):
        caps.add("vision")
    return frozenset(caps)
