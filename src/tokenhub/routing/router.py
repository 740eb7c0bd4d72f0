"""The router: (request features, registry, health, policy) → ranked candidates with reasons.

Pure and synchronous: no I/O, no awaits, and reading health changes nothing. Every model is
either eligible (with each score component shown) or rejected with every reason that
applies. Per-model facts that do not change between requests are precomputed once per
registry version and context headroom (``routing/candidates.py``); what holds for a whole
provider is decided once per provider. docs/ROUTING.md gives the measured cost of a
decision over 100 models.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from tokenhub.errors import Rejection
from tokenhub.registry import Registry
from tokenhub.routing.candidates import (
    BY_SCORE,
    Candidate,
    Row,
    Static,
    build_candidates,
    model_ids,
    precompute,
    select,
)
from tokenhub.routing.health import (
    CREDENTIAL_INVALID,
    DOWN,
    HALF_OPEN,
    PROBE_IN_FLIGHT,
    QUOTA_EXHAUSTED,
    RATE_LIMITED,
    ROUTABLE,
    UNAVAILABLE,
    Health,
    HealthTracker,
)
from tokenhub.routing.policy import RoutingSettings
from tokenhub.schemas import ProviderConfig

__all__ = [
    "PANIC_REASONS",
    "Candidate",
    "CredentialCheck",
    "Decision",
    "RouteRequest",
    "Router",
    "Scored",
    "model_ids",
]

PROVIDER_REASONS = {
    DOWN: "provider_down",
    RATE_LIMITED: "rate_limited_cooldown",
    CREDENTIAL_INVALID: "credential_invalid",
    QUOTA_EXHAUSTED: "quota_exhausted",
    PROBE_IN_FLIGHT: "provider_probe_in_flight",
    HALF_OPEN: "provider_probe_in_flight",
}
MODEL_REASONS = {
    DOWN: "model_cooldown",
    RATE_LIMITED: "rate_limited_cooldown",
    UNAVAILABLE: "model_unavailable",
    PROBE_IN_FLIGHT: "model_probe_in_flight",
}
PANIC_REASONS = frozenset({"model_cooldown", "model_probe_in_flight"})
"""Rejections that panic routing may override: a model ejected for transient failures."""
FAILING = "model_failing"
"""An ejected model that failed nearly every recent try (``Health.failing``): down, not
flaky, so panic routing leaves it to its probes."""
_PANIC_PASSABLE = frozenset({DOWN, HALF_OPEN})

CredentialCheck = Callable[[ProviderConfig], str | None]


@dataclass(slots=True)
class RouteRequest:
    """What the router needs to know about one request.

    ``panic``: every eligible model is ejected for transient failures; route to them anyway,
    least bad first (lowest recent error rate, then the cooldown ending soonest).
    """

    input_tokens: int
    output_tokens: int
    mode: str
    capabilities: frozenset[str] = frozenset()
    max_budget_usd: float | None = None
    max_latency_ms: float | None = None
    min_weight: int | None = None
    min_context_tokens: int = 0
    only_models: frozenset[str] | None = None
    allowed_models: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    prefer_weight: int | None = None
    panic: bool = False


@dataclass(slots=True)
class Scored:
    """A scoring: eligible candidates best first, rejections, and when it may go stale.

    ``recheck_at`` is the earliest (monotonic) end of a cooldown that rejected a model:
    from then on the same request could be scored differently. ``input_tokens`` is the
    count the estimates were made for.
    """

    ranked: list[Candidate]
    rejections: list[Rejection]
    input_tokens: int
    recheck_at: float = math.inf


@dataclass(slots=True)
class Decision:
    """The router's answer: candidates in attempt order, and why the others were rejected."""

    mode: str
    input_tokens: int
    output_tokens: int
    ranked: list[Candidate]
    rejections: list[Rejection]

    @property
    def reason(self) -> str:
        """A short human-readable account of the choice."""
        if not self.ranked:
            return f"mode={self.mode}: no eligible model"
        best = self.ranked[0]
        return (
            f"mode={self.mode}: {best.model.id} scored {best.score:.3f}, "
            f"{len(self.ranked)} eligible, {len(self.rejections)} rejected"
        )


@dataclass(slots=True)
class _Limits:
    """One request's limits, derived once per scoring."""

    request: RouteRequest
    min_weight: int
    needed: int
    min_context: int
    constrained: bool
    """Whether a budget, capabilities or a key's model list must be checked per model."""

    def fits(self, st: Static, cost: float, latency: float) -> bool:
        """Whether ``st`` meets every limit that is not about health or credentials."""
        request = self.request
        return (
            st.enabled
            and self.needed <= st.usable_context
            and self.min_context <= st.max_context
            and st.weight >= self.min_weight
            and (request.max_latency_ms is None or latency <= request.max_latency_ms)
            and (not self.constrained or self._constraints(st, cost))
        )

    def _constraints(self, st: Static, cost: float) -> bool:
        request = self.request
        return (
            (request.max_budget_usd is None or cost <= request.max_budget_usd)
            and request.capabilities <= st.caps
            and (request.allowed_models is None or st.model_id in request.allowed_models)
        )

    def listed(self, model_id: str) -> bool:
        """Whether the request's model lists (``only_models``, ``exclude``) admit the model."""
        only = self.request.only_models
        return (only is None or model_id in only) and model_id not in self.request.exclude


class Router:
    """Ranks models for a request; holds only caches derived from the registry."""

    def __init__(self, registry: Registry, health: HealthTracker, rng: random.Random) -> None:
        self.registry = registry
        self.health = health
        self.rng = rng
        self._static: list[Static] = []
        self._version = -1
        self._headroom = -1.0
        self._recheck_at = math.inf

    def _statics(self, headroom: float) -> list[Static]:
        if self._version != self.registry.version or self._headroom != headroom:
            self._static = [
                precompute(m.config, self.registry, headroom) for m in self.registry.models.values()
            ]
            self._static.sort(key=lambda s: s.model.id)
            self._version = self.registry.version
            self._headroom = headroom
        return self._static

    def route(
        self, request: RouteRequest, settings: RoutingSettings, credentials: CredentialCheck
    ) -> Decision:
        """Rank every model for ``request`` under ``settings`` and draw the first slot."""
        scored = self.score(request, settings, credentials)
        return self.pick(scored, request, settings)

    def pick(self, scored: Scored, request: RouteRequest, settings: RoutingSettings) -> Decision:
        """The decision from a scoring: near-best drawn first by traffic weight."""
        ranked = (
            list(scored.ranked)
            if request.panic
            else select(scored.ranked, settings, self.rng, request.prefer_weight)
        )
        return Decision(
            request.mode, scored.input_tokens, request.output_tokens, ranked, scored.rejections
        )

    def score(
        self, request: RouteRequest, settings: RoutingSettings, credentials: CredentialCheck
    ) -> Scored:
        """Every model eligible (scored, best first) or rejected with every reason.

        The loop is the hot path: each model gets a cheap all-clear test (its health, its
        provider's verdict, decided once per provider, and the request's limits), and only
        a model that fails it goes through ``_rejection`` to collect every reason.
        """
        self._recheck_at = math.inf
        profile = settings.profiles.get(request.mode) or settings.profiles[settings.default_mode]
        limits = _limits(request, profile.min_weight)
        scan = _HealthScan(self, credentials, request.panic)
        rows: list[Row] = []
        rejections: list[Rejection] = []
        in_tokens, out_tokens = request.input_tokens, request.output_tokens
        listed = request.only_models is not None or bool(request.exclude)
        model_record, provider_ok, fits = scan.models.get, scan.provider_ok.get, limits.fits
        for st in self._statics(1.0 - settings.context_headroom):
            if listed and not limits.listed(st.model_id):
                continue
            cost = in_tokens * st.in_price + out_tokens * st.out_price
            record = model_record(st.model_id)
            if record is None:  # never routed to yet: nothing to look up
                latency, failure, healthy = st.expected_latency_ms, 0.0, True
            else:
                latency, failure, healthy = scan.model(st, record)
            ok = provider_ok(st.provider_id)
            if ok is None:
                ok = scan.provider(st.provider)
            if not (ok and healthy and fits(st, cost, latency)):
                reasons = self._rejection(st, limits, cost, latency, scan)
                if reasons:
                    rejections.append(Rejection(st.model_id, reasons))
                    continue
            rows.append((st, cost, latency, failure))
        eligible = build_candidates(rows, profile)
        if request.panic:
            eligible.sort(key=self._least_bad)
        else:
            # Stable sort, candidates arrive in model-id order: ties stay in id order.
            eligible.sort(key=BY_SCORE, reverse=True)
        return Scored(eligible, rejections, request.input_tokens, self._recheck_at)

    def _least_bad(self, candidate: Candidate) -> tuple[float, float]:
        record = self.health.models.get(candidate.model.id)
        return candidate.failure_rate, 0.0 if record is None else record.cooldown_until

    def _rejection(
        self, st: Static, limits: _Limits, cost: float, latency: float, scan: _HealthScan
    ) -> list[str]:
        """Every reason ``st`` is not eligible (empty if it is, e.g. a half-open probe)."""
        request = limits.request
        reasons = self._reasons(st, request, scan)
        if limits.needed > st.usable_context or limits.min_context > st.max_context:
            reasons.append(f"context_too_small (needs {limits.needed}, fits {st.usable_context})")
        if st.weight < limits.min_weight:
            reasons.append(f"weight_below_min ({st.weight} < {limits.min_weight})")
        if request.max_budget_usd is not None and cost > request.max_budget_usd:
            reasons.append(f"over_budget (est ${cost:.6f} > ${request.max_budget_usd:.6f})")
        if request.max_latency_ms is not None and latency > request.max_latency_ms:
            reasons.append(f"too_slow (expected {latency:.0f} ms > {request.max_latency_ms:.0f})")
        problem = scan.credential_problems.get(st.provider_id)
        if problem is not None:
            reasons.append(problem)
        return reasons

    def _reasons(self, static: Static, request: RouteRequest, scan: _HealthScan) -> list[str]:
        reasons: list[str] = []
        model, provider = static.model, static.provider
        if not model.enabled:
            reasons.append("model_disabled")
        if not provider.enabled:
            reasons.append("provider_disabled")
        if request.allowed_models is not None and model.id not in request.allowed_models:
            reasons.append("not_allowed_for_key")
        missing = request.capabilities - static.caps
        if missing:
            reasons.append(f"missing_capability ({', '.join(sorted(missing))})")
        self._health_reasons(provider.id, model.id, scan, reasons)
        return reasons

    def _health_reasons(
        self, provider_id: str, model_id: str, scan: _HealthScan, out: list[str]
    ) -> None:
        now = scan.now
        for record, names, is_model in (
            (self.health.providers.get(provider_id), PROVIDER_REASONS, False),
            (self.health.models.get(model_id), MODEL_REASONS, True),
        ):
            if record is None or (is_model and scan.panic_passes(record)):
                continue
            blocked = record.blocked_reason(now)
            if blocked is not None:
                failing = is_model and scan.failing(record)
                out.append(FAILING if failing else names.get(blocked, blocked))
                if record.cooldown_until > now:  # when this verdict may change by itself
                    self._recheck_at = min(self._recheck_at, record.cooldown_until)


class _HealthScan:
    """One scoring's view of health and credentials: per-provider verdicts made once."""

    __slots__ = (
        "credential_problems",
        "credentials",
        "halflife",
        "models",
        "now",
        "panic",
        "provider_ok",
        "providers",
    )

    def __init__(self, router: Router, credentials: CredentialCheck, panic: bool) -> None:
        health = router.health
        self.now = health.clock.monotonic()
        self.halflife = health.settings.error_halflife_s
        self.models = health.models
        self.providers = health.providers
        self.credentials = credentials
        self.panic = panic
        self.provider_ok: dict[str, bool] = {}
        self.credential_problems: dict[str, str | None] = {}

    def model(self, st: Static, record: Health) -> tuple[float, float, bool]:
        """The model's expected latency (ms), recent error rate, and whether health admits it."""
        ewma = record.latency_ewma_s
        latency = st.expected_latency_ms if ewma is None else ewma * 1000.0
        return latency, record.error_rate(self.now, self.halflife), self._admits(record)

    def _admits(self, record: Health) -> bool:
        return (
            record.state in ROUTABLE
            or record.blocked_reason(self.now) is None
            or self.panic_passes(record)
        )

    @staticmethod
    def failing(record: Health) -> bool:
        """Whether an ejected model failed nearly every recent try (down, not flaky)."""
        return record.state in _PANIC_PASSABLE and record.failing()

    def panic_passes(self, record: Health) -> bool:
        """Whether panic routing may send to this record: ejected, but not failing outright."""
        return self.panic and record.state in _PANIC_PASSABLE and not record.failing()

    def provider(self, provider: ProviderConfig) -> bool:
        """Whether ``provider`` may take a request now (credential and health), once each."""
        ok = self.provider_ok.get(provider.id)
        if ok is None:
            problem = self.credential_problems[provider.id] = self.credentials(provider)
            record = self.providers.get(provider.id)
            ok = self.provider_ok[provider.id] = problem is None and (
                record is None
                or record.state in ROUTABLE
                or record.blocked_reason(self.now) is None
            )
        return ok


def _limits(request: RouteRequest, profile_min_weight: int) -> _Limits:
    min_weight = request.min_weight if request.min_weight is not None else profile_min_weight
    constrained = (
        bool(request.capabilities)
        or request.allowed_models is not None
        or request.max_budget_usd is not None
    )
    return _Limits(
        request,
        min_weight,
        request.input_tokens + request.output_tokens,
        request.min_context_tokens,
        constrained,
    )
