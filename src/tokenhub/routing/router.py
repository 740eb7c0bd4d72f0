"""The router: (request features, registry, health, policy) → ranked candidates with reasons.

Pure and synchronous: no I/O, no awaits. Every model is either eligible (with each score
component shown) or rejected with every reason that applies. Per-model facts that do not
change between requests are precomputed once per registry version (and context headroom);
what holds for a whole provider is decided once per provider. docs/ROUTING.md gives the
measured cost of a decision over 100 models.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

from tokenhub.errors import Rejection
from tokenhub.registry import Registry
from tokenhub.routing.health import (
    CREDENTIAL_INVALID,
    DOWN,
    HALF_OPEN,
    RATE_LIMITED,
    UNAVAILABLE,
    HealthTracker,
)
from tokenhub.routing.policy import RoutingSettings, WeightProfile
from tokenhub.schemas import ModelConfig, ProviderConfig

PER_MILLION = 1_000_000.0
PROVIDER_REASONS = {
    DOWN: "provider_down",
    RATE_LIMITED: "rate_limited_cooldown",
    CREDENTIAL_INVALID: "credential_invalid",
    "probe_in_flight": "provider_probe_in_flight",
    HALF_OPEN: "provider_probe_in_flight",
}
ROUTABLE = frozenset({"healthy", "degraded"})
MODEL_REASONS = {
    DOWN: "model_cooldown",
    UNAVAILABLE: "model_unavailable",
    "probe_in_flight": "model_probe_in_flight",
}

CredentialCheck = Callable[[ProviderConfig], str | None]


@dataclass(slots=True)
class RouteRequest:
    """What the router needs to know about one request."""

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


class Candidate(NamedTuple):
    """An eligible model with its estimate and weighted score parts (higher score is better).

    A named tuple: a decision over 100 models builds 100 of them, and ``_candidates`` builds
    each in C from a plain tuple (0.30 µs here, against 0.33 to 0.51 µs for a slotted
    dataclass's ``__init__``).
    """

    model: ModelConfig
    est_cost_usd: float
    expected_latency_ms: float
    failure_rate: float
    weight_norm: float
    score: float = 0.0
    scale: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """The multipliers of weight, cost, latency and failure rate the score was made with."""

    @property
    def components(self) -> dict[str, float]:
        """The weighted score parts, for explanations (``route test``); they sum to ``score``."""
        weight, cost, latency, failure = self.scale
        return {
            "weight": weight * self.weight_norm,
            "cost": -cost * self.est_cost_usd,
            "latency": -latency * self.expected_latency_ms,
            "failure": -failure * self.failure_rate,
        }


_new_candidate = tuple.__new__
"""Builds a Candidate from one tuple of its fields, skipping NamedTuple's Python ``__new__``."""


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
class _Static:
    model: ModelConfig
    provider: ProviderConfig
    model_id: str
    provider_id: str
    enabled: bool
    weight: int
    weight_norm: float
    max_context: int
    usable_context: int
    """The context a request may fill: ``max_context`` less the configured headroom."""
    expected_latency_ms: float
    in_price: float
    out_price: float
    caps: frozenset[str]


class Router:
    """Ranks models for a request; holds only caches derived from the registry."""

    def __init__(self, registry: Registry, health: HealthTracker, rng: random.Random) -> None:
        self.registry = registry
        self.health = health
        self.rng = rng
        self._static: list[_Static] = []
        self._version = -1
        self._headroom = -1.0
        self._recheck_at = math.inf

    def _statics(self, headroom: float) -> list[_Static]:
        if self._version != self.registry.version or self._headroom != headroom:
            self._static = [
                _precompute(m.config, self.registry, headroom)
                for m in self.registry.models.values()
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
        ranked = _select(scored.ranked, settings, self.rng, request.prefer_weight)
        return Decision(
            request.mode, scored.input_tokens, request.output_tokens, ranked, scored.rejections
        )

    def score(
        self, request: RouteRequest, settings: RoutingSettings, credentials: CredentialCheck
    ) -> Scored:
        """Every model eligible (scored, best first) or rejected with every reason.

        The loop is the hot path. What holds for a whole provider (enabled, credential,
        health) is decided once per provider; each model then gets a cheap all-clear test,
        and only a model that fails it goes through ``_rejection`` to collect every reason.
        Candidates are built once the maxima are known, with their score.
        """
        self._recheck_at = math.inf
        profile = settings.profiles.get(request.mode) or settings.profiles[settings.default_mode]
        min_weight = request.min_weight if request.min_weight is not None else profile.min_weight
        limits = _Limits(request, min_weight, 1.0 - settings.context_headroom)
        rows: list[tuple[_Static, float, float, float]] = []
        rejections: list[Rejection] = []
        provider_ok: dict[str, bool] = {}
        creds: dict[str, str | None] = {}
        max_cost = max_latency_seen = 0.0
        now = self.health.clock.monotonic()
        model_health = self.health.models.get
        needed, min_context = limits.needed, limits.min_context
        in_tokens, out_tokens = request.input_tokens, request.output_tokens
        only, exclude, allowed = request.only_models, request.exclude, request.allowed_models
        caps, budget, max_latency = (
            request.capabilities,
            request.max_budget_usd,
            request.max_latency_ms,
        )
        listed = only is not None or bool(exclude)
        constrained = bool(caps) or allowed is not None or budget is not None
        for st in self._statics(limits.headroom):
            mid = st.model_id
            if listed and ((only is not None and mid not in only) or mid in exclude):
                continue
            cost = in_tokens * st.in_price + out_tokens * st.out_price
            mh = model_health(mid)
            if mh is None:
                latency, failure, model_ok = st.expected_latency_ms, 0.0, True
            else:
                ewma = mh.latency_ewma_s
                latency = st.expected_latency_ms if ewma is None else ewma * 1000.0
                failure = mh.error_rate
                model_ok = mh.state in ROUTABLE or mh.blocked_reason(now) is None
            pid = st.provider_id
            ok = provider_ok.get(pid)
            if ok is None:
                ok = provider_ok[pid] = self._provider_ok(st.provider, credentials, creds, now)
            if not (
                ok
                and model_ok
                and st.enabled
                and needed <= st.usable_context
                and min_context <= st.max_context
                and st.weight >= min_weight
                and (max_latency is None or latency <= max_latency)
                and (
                    not constrained
                    or (
                        (budget is None or cost <= budget)
                        and (not caps or caps <= st.caps)
                        and (allowed is None or mid in allowed)
                    )
                )
            ):
                reasons = self._rejection(st, limits, cost, latency, now, creds.get(pid))
                if reasons:
                    rejections.append(Rejection(mid, reasons))
                    continue
            if cost > max_cost:  # noqa: PLR1730 - cheaper than calling max() per model
                max_cost = cost
            if latency > max_latency_seen:  # noqa: PLR1730
                max_latency_seen = latency
            rows.append((st, cost, latency, failure))
        eligible = _candidates(rows, profile, max_cost or 1.0, max_latency_seen or 1.0)
        # Stable sort, candidates arrive in model-id order: ties stay in id order.
        eligible.sort(key=_BY_SCORE, reverse=True)
        return Scored(eligible, rejections, request.input_tokens, self._recheck_at)

    def _provider_ok(
        self,
        provider: ProviderConfig,
        credentials: CredentialCheck,
        creds: dict[str, str | None],
        now: float,
    ) -> bool:
        """Whether ``provider`` may take a request now; its credential verdict goes in ``creds``."""
        problem = creds[provider.id] = credentials(provider)
        if problem is not None:
            return False
        health = self.health.providers.get(provider.id)
        return health is None or health.state in ROUTABLE or health.blocked_reason(now) is None

    def _rejection(
        self,
        st: _Static,
        limits: _Limits,
        cost: float,
        latency: float,
        now: float,
        credential_problem: str | None,
    ) -> list[str]:
        """Every reason ``st`` is not eligible (empty if it is, e.g. a half-open probe)."""
        request = limits.request
        reasons = self._reasons(st, request, now)
        if limits.needed > st.usable_context or limits.min_context > st.max_context:
            reasons.append(f"context_too_small (needs {limits.needed}, fits {st.usable_context})")
        if st.weight < limits.min_weight:
            reasons.append(f"weight_below_min ({st.weight} < {limits.min_weight})")
        if request.max_budget_usd is not None and cost > request.max_budget_usd:
            reasons.append(f"over_budget (est ${cost:.6f} > ${request.max_budget_usd:.6f})")
        if request.max_latency_ms is not None and latency > request.max_latency_ms:
            reasons.append(f"too_slow (expected {latency:.0f} ms > {request.max_latency_ms:.0f})")
        if credential_problem is not None:
            reasons.append(credential_problem)
        return reasons

    def _reasons(self, static: _Static, request: RouteRequest, now: float) -> list[str]:
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
        self._health_reasons(provider.id, model.id, now, reasons)
        return reasons

    def _health_reasons(self, provider_id: str, model_id: str, now: float, out: list[str]) -> None:
        for record, names in (
            (self.health.providers.get(provider_id), PROVIDER_REASONS),
            (self.health.models.get(model_id), MODEL_REASONS),
        ):
            if record is None:
                continue
            blocked = record.blocked_reason(now)
            if blocked is not None:
                out.append(names.get(blocked, blocked))
                if record.cooldown_until > now:  # when this verdict may change by itself
                    self._recheck_at = min(self._recheck_at, record.cooldown_until)


@dataclass(slots=True)
class _Limits:
    """Per-request limits derived once before the loop."""

    request: RouteRequest
    min_weight: int
    headroom: float
    needed: int = 0
    min_context: int = 0

    def __post_init__(self) -> None:
        self.needed = self.request.input_tokens + self.request.output_tokens
        self.min_context = self.request.min_context_tokens


def _precompute(model: ModelConfig, registry: Registry, headroom: float) -> _Static:
    provider = registry.providers[model.provider].config
    return _Static(
        model=model,
        provider=provider,
        model_id=model.id,
        provider_id=provider.id,
        enabled=model.enabled and provider.enabled,
        weight=model.weight,
        weight_norm=(model.weight - 1) / 9.0,
        max_context=model.max_context_tokens,
        usable_context=int(model.max_context_tokens * headroom),
        expected_latency_ms=model.expected_latency_ms,
        in_price=model.input_usd_per_mtok / PER_MILLION,
        out_price=model.output_usd_per_mtok / PER_MILLION,
        caps=frozenset(model.capabilities),
    )


def _candidates(
    rows: list[tuple[_Static, float, float, float]],
    profile: WeightProfile,
    max_cost: float,
    max_latency: float,
) -> list[Candidate]:
    """Candidates with their scores: cost and latency scaled by the largest among them."""
    w_weight, w_cost = profile.weight, profile.cost / max_cost
    w_latency, w_failure = profile.latency / max_latency, profile.failure
    scale = (w_weight, w_cost, w_latency, w_failure)
    return [
        _new_candidate(
            Candidate,
            (
                st.model,
                cost,
                latency,
                failure,
                st.weight_norm,
                w_weight * st.weight_norm
                - w_cost * cost
                - w_latency * latency
                - w_failure * failure,
                scale,
            ),
        )
        for st, cost, latency, failure in rows
    ]


def _select(
    candidates: list[Candidate],
    settings: RoutingSettings,
    rng: random.Random,
    prefer_weight: int | None,
) -> list[Candidate]:
    """Best first (``candidates`` are sorted); the first slot is drawn among the near-best.

    After a transient failure the executor sets ``prefer_weight``: peers of the failed
    model's weight come first (best score first), then everything else.
    """
    if len(candidates) < 2:  # noqa: PLR2004
        return list(candidates)
    ranked = list(candidates)  # already sorted best first; a copy, as scorings are shared
    if prefer_weight is not None:
        peers = [c for c in ranked if c.model.weight == prefer_weight]
        return peers + [c for c in ranked if c.model.weight != prefer_weight]
    best = ranked[0].score
    pool = [c for c in ranked[: settings.top_k] if c.score >= best - settings.selection_margin]
    weights = [settings.traffic_weights.get(c.model.id, 1.0) for c in pool]
    total = sum(weights)
    if len(pool) > 1 and total > 0:
        chosen = _draw(weights, total * rng.random())
        ranked.insert(0, ranked.pop(chosen))  # the pool is the head of ``ranked``
    return ranked


def _draw(weights: list[float], point: float) -> int:
    """The index whose cumulative-weight interval holds ``point`` (a weighted draw)."""
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    return len(weights) - 1


_BY_SCORE = attrgetter("score")


def model_ids(candidates: Iterable[Candidate]) -> list[str]:
    """The ids of candidates, in order."""
    return [c.model.id for c in candidates]
