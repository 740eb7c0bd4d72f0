"""The executor: runs attempts in the router's order and fails over by error class.

- ``context_overflow``: escalate to a model whose context is larger than the one that refused.
- ``rate_limited``: that model waits out Retry-After (health tracker); reroute.
- ``transient`` / timeout: counted against the model and its provider (ejected on evidence,
  routing/health.py); reroute to a peer of the same weight first, then the next best.
  Models already tried come back only when nothing untried is left, the last one last.
- ``auth`` / ``quota_exhausted``: the provider is taken out; reroute.
- ``model_unavailable``: the model alone is out for a long cooldown; reroute.
- ``overloaded``: tokenhub's own connection pool is full: no health verdict; reroute.
- ``fatal``: the client's own bad request; returned as is, no reroute.

Every upstream call counts against ``attempt_budget`` and is listed in the attempts
(adapter retries included): with peers left the adapter does not retry, the last
candidate standing gets the rest of the budget as retries. While peers remain, a try
waits for its first byte only ``HealthTracker.first_byte_timeout`` (adaptive), so a hang
costs one try, not the request. When every eligible model is ejected for transient
failures, the request goes to the least bad of them (panic mode) rather than being
refused. Streams fail over only until their first event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, cast

from tokenhub.clock import Clock
from tokenhub.dispatch.cost import cost_of, estimate_of
from tokenhub.dispatch.observe import ExecutionObserver
from tokenhub.dispatch.outcomes import held_by_health, nothing_left, panic_possible
from tokenhub.errors import (
    AllProvidersFailedError,
    AttemptRecord,
    ErrorKind,
    ProviderError,
    TokenhubError,
)
from tokenhub.observability.tracing import Tracing
from tokenhub.providers.base import (
    CallOptions,
    CallResult,
    ProviderAdapter,
    RateLimitSnapshot,
    StreamHandle,
)
from tokenhub.providers.ratelimit_headers import wait_hint
from tokenhub.routing.cache import CachedRouter
from tokenhub.routing.health import HealthTracker
from tokenhub.routing.policy import RoutingSettings
from tokenhub.routing.router import Decision, RouteRequest
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, ChatResponse

DEADLINE_GRACE_S = 0.5
"""How long past the request deadline a call that ignores it may run before it is cut."""


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


@dataclass(slots=True)
class _Try:
    """What one adapter call gave: its value, retries, own latency and a rate-limit hint."""

    value: Any
    retries: int
    latency_s: float
    ratelimit: RateLimitSnapshot | None


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

        async def call(adapter: ProviderAdapter, model: ModelConfig, opts: CallOptions) -> _Try:
            result = await adapter.complete(request, model, opts)
            return _Try(result, result.retries, result.latency_s, result.ratelimit)

        result, info = await self._run(call, route, settings, headers, stream=False)
        response = cast("CallResult", result).response
        return Completed(info, response, cost_of(info.model, response.usage))

    async def open_stream(
        self,
        request: ChatRequest,
        route: RouteRequest,
        settings: RoutingSettings,
        headers: dict[str, str],
    ) -> Opened:
        """Open a stream and wait for its first events, failing over until then."""

        async def call(adapter: ProviderAdapter, model: ModelConfig, opts: CallOptions) -> _Try:
            started = self.clock.monotonic()
            handle = await adapter.open_stream(request, model, opts)
            if not handle.first:
                await handle.aclose()
                raise ProviderError(ErrorKind.TRANSIENT, "upstream stream ended empty")
            latency = getattr(handle, "latency_s", None)
            if latency is None:  # a plugin's handle: time to first event seen from here
                latency = self.clock.monotonic() - started
            return _Try(handle, handle.retries, latency, handle.ratelimit)

        handle, info = await self._run(call, route, settings, headers, stream=True)
        return Opened(info, cast("StreamHandle", handle))

    async def _run(
        self,
        call: Callable[[ProviderAdapter, ModelConfig, CallOptions], Awaitable[_Try]],
        route: RouteRequest,
        settings: RoutingSettings,
        headers: dict[str, str],
        *,
        stream: bool,
    ) -> tuple[Any, Attempted]:
        run = _Run(self.clock.monotonic() + settings.request_timeout_s)
        while len(run.attempts) < settings.attempt_budget:
            if run.past_deadline or self.clock.monotonic() >= run.deadline:
                raise AllProvidersFailedError(
                    f"the request deadline (request_timeout_s = {settings.request_timeout_s:g} s)"
                    f" ran out after {len(run.attempts)} attempts",
                    run.attempts,
                )
            decision = self._decide(route, settings, run)
            model = decision.ranked[0].model
            provider = self.source.provider(model.provider)
            alone = len(decision.ranked) == 1 and _alone(decision, run, model.id)
            budget_left = settings.attempt_budget - len(run.attempts)
            # While peers remain, the first byte gets an adaptive wait (None: the provider's
            # timeout alone): not the wait for a pooled connection, not a stream's silences.
            first_byte = (
                None
                if alone
                else self.health.first_byte_timeout(
                    model.id, stream=stream, ceiling_s=provider.timeout_s
                )
            )
            probe = self.health.begin(provider.id, model.id)
            # With somewhere else to go, failing over beats retrying the same upstream;
            # the last candidate standing gets the rest of the attempt budget as retries,
            # unless this call is a probe: a probe is one call, not a burst.
            retries = budget_left - 1 if alone and not probe else 0
            run.tried.add(model.id)
            started = time.perf_counter()
            # Without spans to record, no span at all: the no-op spans' calls and keyword
            # dicts were about 8 % of the executor's own instructions per request.
            attempt = self._traced_attempt if self.tracing.enabled else self._attempt
            try:
                outcome = await attempt(call, provider, model, run, retries, first_byte, headers)
            except ProviderError as exc:
                route = self._failed(route, provider, model, exc, started, run)
                continue
            except (asyncio.CancelledError, TokenhubError):
                # Its client left, or the request cannot be sent there (strict fields):
                # nothing to judge the upstream by.
                self.health.abandon(provider.id, model.id)
                raise
            self._succeeded(provider, model, outcome, started, run, stream=stream)
            first = run.first or decision
            cost = estimate_of(model, route.input_tokens, route.output_tokens)
            info = Attempted(first, model, provider, run.attempts, cost)
            return outcome.value, info
        raise AllProvidersFailedError(
            f"all {len(run.attempts)} attempts failed within the attempt budget"
            f" ({settings.attempt_budget})",
            run.attempts,
        )

    def _decide(self, route: RouteRequest, settings: RoutingSettings, run: _Run) -> Decision:
        """The next decision: untried models first, then tried ones, then panic routing."""
        if self.tracing.enabled:
            with self.tracing.span("tokenhub.route", mode=route.mode) as span:
                decision = self._rank(route, settings, run)
                span.set_attribute("tokenhub.eligible", len(decision.ranked))
                span.set_attribute("tokenhub.rejected", len(decision.rejections))
        else:  # no span to record: skip the no-op span's calls (see _run)
            decision = self._rank(route, settings, run)
        if not decision.ranked:
            first = run.first or decision  # _rank has set it: this only tells mypy
            raise nothing_left(
                decision, first, run.attempts, self.health, self.router.router.registry
            )
        return decision

    def _rank(self, route: RouteRequest, settings: RoutingSettings, run: _Run) -> Decision:
        check, version = self.source.credential_problem, self.source.credentials_version()
        route = _excluding(route, run.full)
        decision = self.router.route(_excluding(route, run.tried), settings, check, version)
        if not decision.ranked and run.tried:
            # Everything untried is out: try again what failed before, the last one
            # only if nothing else is left.
            others = _excluding(route, {run.last} if run.last else set())
            decision = self.router.route(others, settings, check, version)
            if not decision.ranked:
                decision = self.router.route(route, settings, check, version)
        run.first = run.first or decision
        if not decision.ranked and panic_possible(decision.rejections):
            decision = self.router.route(replace(route, panic=True), settings, check, version)
            if decision.ranked:
                self.observer.panicked(route.mode, decision.ranked[0].model)
        return decision

    async def _attempt(
        self,
        call: Callable[[ProviderAdapter, ModelConfig, CallOptions], Awaitable[_Try]],
        provider: ProviderConfig,
        model: ModelConfig,
        run: _Run,
        retries: int,
        first_byte: float | None,
        headers: dict[str, str],
    ) -> _Try:
        """One adapter call (with its own retries), its first byte bounded by ``first_byte``."""

        def retried(exc: ProviderError) -> None:
            run.attempts.append(_record(model, provider, exc, 0.0))

        on_retry = retried if retries else None
        trace = self.tracing.outgoing()  # in the attempt's span when spans are recorded
        options = CallOptions(
            run.deadline,
            self.source.api_key(provider),
            {**headers, **trace} if trace else dict(headers),
            retries,
            first_byte_s=first_byte,
            on_retry=on_retry,
        )
        adapter = self.source.adapter(provider.id)
        # Built-in adapters end every call by the deadline; others get a bound past it.
        bound = None if getattr(adapter, "honours_deadline", False) else DEADLINE_GRACE_S
        try:
            if bound is None:
                return await call(adapter, model, options)
            async with asyncio.timeout(max(0.0, run.deadline - self.clock.monotonic() + bound)):
                return await call(adapter, model, options)
        except TimeoutError:
            run.past_deadline = True
            raise ProviderError(
                ErrorKind.TRANSIENT,
                "the call was still running at the request deadline",
                provider=provider.id,
            ) from TimeoutError()

    async def _traced_attempt(
        self,
        call: Callable[[ProviderAdapter, ModelConfig, CallOptions], Awaitable[_Try]],
        provider: ProviderConfig,
        model: ModelConfig,
        run: _Run,
        retries: int,
        first_byte: float | None,
        headers: dict[str, str],
    ) -> _Try:
        """``_attempt`` in an attempt span, when spans are recorded (one await level more)."""
        with self.tracing.span("tokenhub.attempt", provider=provider.id, model=model.id) as span:
            try:
                return await self._attempt(call, provider, model, run, retries, first_byte, headers)
            except ProviderError as exc:
                span.set_attribute("tokenhub.error_kind", str(exc.kind))
                raise

    def _failed(
        self,
        route: RouteRequest,
        provider: ProviderConfig,
        model: ModelConfig,
        exc: ProviderError,
        started: float,
        run: _Run,
    ) -> RouteRequest:
        elapsed = time.perf_counter() - started
        run.attempts.append(_record(model, provider, exc, elapsed))
        run.last = model.id
        if exc.kind is ErrorKind.OVERLOADED:
            # Tokenhub's own connection limit, not the upstream's fault: no health verdict,
            # and no second wait for the same full pool within this request.
            self.health.abandon(provider.id, model.id)
            run.full.add(model.id)
            return route
        timed_out = isinstance(exc.__cause__, TimeoutError)
        changed = self.health.failure(
            provider.id, model.id, exc.kind, exc.message, exc.retry_after, timed_out=timed_out
        )
        self.observer.failed(provider, model, exc, elapsed, changed)
        if exc.kind is ErrorKind.FATAL:
            raise exc
        return _next_route(route, model, exc.kind)

    def _succeeded(
        self,
        provider: ProviderConfig,
        model: ModelConfig,
        outcome: _Try,
        started: float,
        run: _Run,
        *,
        stream: bool,
    ) -> None:
        elapsed = time.perf_counter() - started
        changed = self.health.success(provider.id, model.id, outcome.latency_s, stream=stream)
        # An answer that says the model has nothing left until its reset: send no more.
        # (Adapters hand over a snapshot only then: most answers skip the check.)
        if outcome.ratelimit is not None:
            wait = wait_hint(outcome.ratelimit)
            if wait is not None and wait > 0 and self.health.exhausted(model.id, wait):
                changed.append(f"model:{model.id}")
        self.observer.succeeded(provider, model, elapsed, outcome.retries, changed)
        run.attempts.append(
            AttemptRecord(model.id, provider.id, "ok", latency_ms=outcome.latency_s * 1000)
        )


@dataclass(slots=True)
class _Run:
    """One request's progress through its attempts."""

    deadline: float
    attempts: list[AttemptRecord] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    full: set[str] = field(default_factory=set)
    """Models whose provider's connection pool was full: not tried again."""
    past_deadline: bool = False
    last: str | None = None
    first: Decision | None = None


def _alone(decision: Decision, run: _Run, model_id: str) -> bool:
    """Whether ``model_id``, the one candidate now, is the only model this request has.

    A model held out by its circuit still counts as a peer: it comes back, and panic
    routing may use it. So do the models this request already tried.
    """
    peers = run.tried | {r.model for r in decision.rejections if held_by_health(r)}
    return not peers - {model_id}


def _excluding(route: RouteRequest, models: set[str]) -> RouteRequest:
    if not models or models <= route.exclude:  # the first attempt's case: no set built
        return route
    return replace(route, exclude=route.exclude | models)


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
    if kind is ErrorKind.CONTEXT_OVERFLOW:
        floor = max(route.min_context_tokens, model.max_context_tokens + 1)
        return replace(route, min_context_tokens=floor, prefer_weight=None)
    if kind is ErrorKind.TRANSIENT:
        return replace(route, prefer_weight=model.weight)
    return replace(route, prefer_weight=None)
