"""Routing decisions reused across similar requests, for at most a second.

Scoring every model is the router's cost (about 1 µs per model); most requests in a busy
gateway look alike (same target, same policy, similar size). The cache keeps the
*scoring* — eligible models best first and every rejection — keyed by everything that
can change it, and each request still gets its own weighted draw for the first slot.

A scoring is recomputed when any input changes (registry, routing settings, credentials
such as the vault's lock, a health state), when a cooldown that rejected a model ends,
and in any case after ``MAX_AGE_S``, so measured latencies and error rates reach the
scores within a second. Input tokens are rounded up to a multiple of ``TOKEN_STEP``
(the estimate already errs high; this only makes it err a little higher).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace

from tokenhub.routing.policy import RoutingSettings
from tokenhub.routing.router import CredentialCheck, Decision, Router, RouteRequest, Scored

MAX_AGE_S = 1.0
TOKEN_STEP = 64
MAX_ENTRIES = 512


@dataclass(slots=True)
class _Entry:
    scored: Scored
    fresh_until: float
    health_version: int
    settings: RoutingSettings  # held, so its id in the key cannot be reused meanwhile


class CachedRouter:
    """The router with a short-lived cache of scorings in front of it."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._entries: dict[Hashable, _Entry] = {}

    def route(
        self,
        request: RouteRequest,
        settings: RoutingSettings,
        credentials: CredentialCheck,
        credentials_version: Hashable = None,
    ) -> Decision:
        """Like ``Router.route``, reusing a recent scoring of an equivalent request."""
        scored = self.scored(request, settings, credentials, credentials_version)
        return self.router.pick(scored, request, settings)

    def scored(
        self,
        request: RouteRequest,
        settings: RoutingSettings,
        credentials: CredentialCheck,
        credentials_version: Hashable = None,
    ) -> Scored:
        """The (cached) scoring of ``request``: eligible models best first, no draw."""
        tokens = -(-request.input_tokens // TOKEN_STEP) * TOKEN_STEP
        health = self.router.health
        now = health.clock.monotonic()
        key = _key(request, tokens, settings, credentials_version, self.router.registry.version)
        entry = self._entries.get(key)
        if (
            entry is None
            or now >= entry.fresh_until
            or entry.health_version != health.version
            or entry.settings is not settings
        ):
            rounded = replace(request, input_tokens=tokens)  # only on a miss: replace is slow
            scored = self.router.score(rounded, settings, credentials)
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            fresh_until = min(now + MAX_AGE_S, scored.recheck_at)
            entry = self._entries[key] = _Entry(scored, fresh_until, health.version, settings)
        return entry.scored

    def clear(self) -> None:
        """Forget every scoring."""
        self._entries.clear()


def _key(
    request: RouteRequest,
    input_tokens: int,
    settings: RoutingSettings,
    credentials: Hashable,
    registry: int,
) -> Hashable:
    return (
        registry,
        id(settings),
        credentials,
        input_tokens,
        request.output_tokens,
        request.mode,
        request.capabilities,
        request.max_budget_usd,
        request.max_latency_ms,
        request.min_weight,
        request.min_context_tokens,
        request.only_models,
        request.allowed_models,
        request.exclude,
        request.panic,
    )
