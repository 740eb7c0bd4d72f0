"""The executor: runs attempts in the router's order and fails over by error class.

- ``context_overflow``: the prompt did not fit after all; escalate to a model whose
  context is larger than the one that refused.
- ``rate_limited``: the provider is cooled down until Retry-After (health tracker); reroute.
- ``transient`` / timeout: the model is cooled down (growing on repeats); reroute to a
  peer of the same weight first, then the next best.
- ``auth``: the provider's credential is marked invalid; reroute.
- ``model_unavailable``: the provider does not serve the model (404); the model alone is
  taken out for a long cooldown; reroute.
- ``fatal``: the client's own bad request; returned as is, no reroute.

Streams fail over only until their first event: once anything may have reached the
client, an upstream error ends the stream instead (the handler renders it).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from tokenhub.clock import Clock
from tokenhub.dispatch.observe import ExecutionObserver
from tokenhub.errors import (
    AllProvidersFailedError,
    AttemptRecord,
    BudgetExceededError,
    ErrorKind,
    NoEligibleModelError,
    ProviderError,
    Rejection,
    VaultLockedError,
)
from tokenhub.observability.tracing import Tracing
from tokenhub.providers.base import CallOptions, ProviderAdapter, StreamHandle
from tokenhub.routing.cache import CachedRouter
from tokenhub.routing.health import HealthTracker
from tokenhub.routing.policy import RoutingSettings
from tokenhub.routing.router import Decision, RouteRequest
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, ChatResponse, Usage

T = TypeVar("T")
PER_MILLION = 1_000_000.0


class AdapterSource(Protocol):
    """Looks up the adapter and credentials for a provider (the gateway provides this)."""

    def adapter(self, provider_id: str) -> ProviderAdapter:
        """The live adapter of a provider."""
        ...

    def credential_problem(self, provider: ProviderConfig) -> str | None:
        """Why the provider's credential is unusable, or None."""
        ...

    def api_key(self, provider: ProviderConfig) -> str | None:
        """The key to send to the provider."""
        ...

    def provider(self, provider_id: str) -> ProviderConfig:
        """A provider's configuration."""
        ...

    def credentials_version(self) -> Hashable:
        """Changes whenever a credential's availability can have changed."""
        ...


@dataclass(slots=True)
class Attempted:
    """What every outcome reports: the decision, the model that answered, each attempt."""

    decision: Decision
    model: ModelConfig
    provider: ProviderConfig
    attempts: list[AttemptRecord]
    estimated_cost_usd: float


@dataclass(slots=True)
class Completed:
    """A successful non-streaming call."""

    info: Attempted
    response: ChatResponse
    cost_usd: float


@dataclass(slots=True)
class Opened:
    """A stream whose first events have arrived (``handle.first``), ready to be written.

    ``handle.batches()`` yields every event, a network read's worth at a time; the handle
    may instead be relayed byte for byte (server/passthrough.py).
    """

    info: Attempted
    handle: StreamHandle


def cost_of(model: ModelConfig, usage: Usage) -> float:
    """What ``usage`` costs on ``model`` in USD; cached input at the model's cache prices."""
    price_in = model.input_usd_per_mtok
    read, write = usage.cache_read_tokens, usage.cache_write_tokens
    fresh = max(0, usage.input_tokens - read - write)
    read_price = (
        price_in if model.cache_read_usd_per_mtok is None else model.cache_read_usd_per_mtok
    )
    write_price = (
        price_in if model.cache_write_usd_per_mtok is None else model.cache_write_usd_per_mtok
    )
    return (
        fresh * price_in
        + read * read_price
        + write * write_price
        + usage.output_tokens * model.output_usd_per_mtok
    ) / PER_MILLION


class Executor:
    """Runs a request through the ranked candidates within an attempt budget."""

    def __init__(
        self,
        router: CachedRouter,
        health: HealthTracker,
        source: AdapterSource,
        clock: Clock,
        observer: ExecutionObserver | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.router = router
        self.health = health
        self.source = source
        self.clock = clock
        self.observer = observer or ExecutionObserver(None, None, health)
        self.tracing = tracing or Tracing()

    async def complete(
        self,
        request: ChatRequest,
        route: RouteRequest,
        settings: RoutingSettings,
        headers: dict[str, str],
    ) -> Completed:
        """Get a complete response, failing over as needed."""

        async def call(
            adapter: ProviderAdapter, model: ModelConfig, opts: CallOptions
        ) -> tuple[ChatResponse, int]:
            result = await adapter.complete(request, model, opts)
            return result.response, result.retries

        response, info = await self._run(call, route, settings, headers)
        return Completed(info, response, cost_of(info.model, response.usage))

    async def open_stream(
        self,
        request: ChatRequest,
        route: RouteRequest,
        settings: RoutingSettings,
        headers: dict[str, str],
    ) -> Opened:
        """Open a stream and wait for its first events, failing over until then."""

        async def call(
            adapter: ProviderAdapter, model: ModelConfig, opts: CallOptions
        ) -> tuple[StreamHandle, int]:
            handle = await adapter.open_stream(request, model, opts)
            if not handle.first:
                await handle.aclose()
                raise ProviderError(ErrorKind.TRANSIENT, "upstream stream ended empty")
            return handle, handle.retries

        handle, info = await self._run(call, route, settings, headers)
        return Opened(info, handle)

    async def _run(
        self,
        call: Callable[[ProviderAdapter, ModelConfig, CallOptions], Awaitable[tuple[T, int]]],
        route: RouteRequest,
        settings: RoutingSettings,
        headers: dict[str, str],
    ) -> tuple[T, Attempted]:
        attempts: list[AttemptRecord] = []
        deadline = self.clock.monotonic() + settings.request_timeout_s
        first_decision: Decision | None = None
        for _ in range(settings.attempt_budget):
            with self.tracing.span("tokenhub.route", mode=route.mode) as span:
                decision = self.router.route(
                    route,
                    settings,
                    self.source.credential_problem,
                    self.source.credentials_version(),
                )
                span.set_attribute("tokenhub.eligible", len(decision.ranked))
                span.set_attribute("tokenhub.rejected", len(decision.rejections))
            first_decision = first_decision or decision
            if not decision.ranked:
                raise _nothing_left(decision, first_decision, attempts)
            candidate = decision.ranked[0]
            model = candidate.model
            provider = self.source.provider(model.provider)
            if self.clock.monotonic() >= deadline:
                break
            # With somewhere else to go, failing over beats retrying the same upstream;
            # the last candidate standing gets the adapter's own retries.
            retries = 0 if len(decision.ranked) > 1 else None
            self.health.begin(provider.id, model.id)
            started = time.perf_counter()
            try:
                with self.tracing.span(
                    "tokenhub.attempt", provider=provider.id, model=model.id
                ) as span:
                    trace_headers = {**headers, **self.tracing.outgoing()}
                    options = CallOptions(
                        deadline, self.source.api_key(provider), trace_headers, retries
                    )
                    try:
                        outcome, retries_made = await call(
                            self.source.adapter(provider.id), model, options
                        )
                    except ProviderError as exc:
                        span.set_attribute("tokenhub.error_kind", str(exc.kind))
                        raise
            except ProviderError as exc:
                elapsed = time.perf_counter() - started
                attempts.append(_record(model, provider, exc, elapsed))
                changed = self.health.failure(
                    provider.id, model.id, exc.kind, exc.message, exc.retry_after
                )
                self.observer.failed(provider, model, exc, elapsed, changed)
                if exc.kind is ErrorKind.FATAL:
                    raise
                route = _next_route(route, model, exc.kind)
                continue
            elapsed = time.perf_counter() - started
            changed = self.health.success(provider.id, model.id, elapsed)
            self.observer.succeeded(provider, model, elapsed, retries_made, changed)
            attempts.append(AttemptRecord(model.id, provider.id, "ok", latency_ms=elapsed * 1000))
            info = Attempted(first_decision, model, provider, attempts, candidate.est_cost_usd)
            return outcome, info
        raise AllProvidersFailedError(
            f"all {len(attempts)} attempts failed within the attempt budget or deadline",
            attempts,
        )


def _record(
    model: ModelConfig, provider: ProviderConfig, exc: ProviderError, elapsed: float
) -> AttemptRecord:
    return AttemptRecord(
        model.id,
        provider.id,
        "error",
        error_kind=str(exc.kind),
        error=exc.message,
        upstream_status=exc.upstream_status,
        latency_ms=elapsed * 1000,
    )


def _next_route(route: RouteRequest, model: ModelConfig, kind: ErrorKind) -> RouteRequest:
    exclude = route.exclude | {model.id}
    if kind is ErrorKind.CONTEXT_OVERFLOW:
        floor = max(route.min_context_tokens, model.max_context_tokens + 1)
        return replace(route, exclude=exclude, min_context_tokens=floor, prefer_weight=None)
    if kind is ErrorKind.TRANSIENT:
        return replace(route, exclude=exclude, prefer_weight=model.weight)
    return replace(route, exclude=exclude, prefer_weight=None)


def _nothing_left(decision: Decision, first: Decision, attempts: list[AttemptRecord]) -> Exception:
    if attempts:
        return AllProvidersFailedError(
            f"all {len(attempts)} attempts failed and no other model is eligible", attempts
        )
    rejections = decision.rejections or first.rejections
    if rejections and all(_only(r, "vault_locked") for r in rejections):
        return VaultLockedError(
            "every eligible model needs a key from the vault, which is locked;"
            " unlock it with 'tokenhub vault unlock'"
        )
    if rejections and all(_only(r, "over_budget") for r in rejections):
        return BudgetExceededError(
            "no model fits max_budget_usd for this request: " + _cheapest(rejections)
        )
    return NoEligibleModelError(
        f"no model is eligible for this request ({len(rejections)} rejected)", rejections
    )


def _only(rejection: Rejection, prefix: str) -> bool:
    return all(reason.startswith(prefix) for reason in rejection.reasons)


def _cheapest(rejections: list[Rejection]) -> str:
    return "; ".join(f"{r.model}: {r.reasons[0]}" for r in rejections[:5])
