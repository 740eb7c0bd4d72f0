"""Gauges read from live state at scrape time: health, circuits, rate limits, streams."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from tokenhub.observability.metrics import StateSample
from tokenhub.routing.health import (
    CREDENTIAL_INVALID,
    DEGRADED,
    DOWN,
    HALF_OPEN,
    HEALTHY,
    QUOTA_EXHAUSTED,
    RATE_LIMITED,
    Health,
)
from tokenhub.server.app_keys import EVENTS, GATEWAY, METRICS, VAULT

STATES = (HEALTHY, DEGRADED, DOWN, HALF_OPEN, RATE_LIMITED, CREDENTIAL_INVALID, QUOTA_EXHAUSTED)
"""The states a provider record can be in (``unavailable`` is for models only)."""
CIRCUIT = {HEALTHY: 0.0, DEGRADED: 0.0, HALF_OPEN: 0.5}

Family = tuple[str, str, list[str], list[StateSample]]
_NEVER_USED = Health()
"""What a provider with no record yet reads as (read only, never stored)."""


def register_state_metrics(app: web.Application) -> None:
    """Attach the scrape-time collector to the app's registry."""
    app[METRICS].add_state_source(lambda: families(app))


def families(app: web.Application) -> Iterable[Family]:
    """Every state gauge family, computed now."""
    if GATEWAY not in app:
        return []
    gateway = app[GATEWAY]
    tracker = gateway.health
    now = tracker.clock.monotonic()
    health: list[StateSample] = []
    circuit: list[StateSample] = []
    remaining: list[StateSample] = []
    for provider_id, entry in sorted(gateway.registry.providers.items()):
        # A read, never a transition: an expired cooldown shows as half-open, nothing moves.
        state = tracker.providers.get(provider_id, _NEVER_USED).effective_state(now)
        health.extend(
            StateSample({"provider": provider_id, "state": name}, float(state == name))
            for name in STATES
        )
        circuit.append(StateSample({"provider": provider_id}, CIRCUIT.get(state, 1.0)))
        adapter = gateway.pool.get(provider_id) if provider_id in gateway.pool else None
        snapshot = adapter.ratelimit if adapter is not None else None
        seen = {
            "requests": snapshot.remaining_requests if snapshot else None,
            "tokens": snapshot.remaining_tokens if snapshot else None,
        }
        remaining.extend(
            StateSample({"provider": provider_id, "kind": kind}, float(value))
            for kind, value in seen.items()
            if value is not None and entry.config.enabled
        )
    return [
        (
            "tokenhub_provider_health_state",
            "1 for the provider's current health state.",
            ["provider", "state"],
            health,
        ),
        (
            "tokenhub_provider_circuit_state",
            "Circuit breaker: 0 closed, 0.5 half-open, 1 open.",
            ["provider"],
            circuit,
        ),
        (
            "tokenhub_ratelimit_remaining",
            "Provider rate-limit headroom as last reported.",
            ["provider", "kind"],
            remaining,
        ),
        (
            "tokenhub_event_subscribers",
            "Clients connected to the event stream.",
            [],
            [StateSample({}, float(app[EVENTS].subscribers))],
        ),
        (
            "tokenhub_vault_locked",
            "1 while the vault is locked or uninitialised, 0 while unlocked.",
            [],
            [StateSample({}, float(app[VAULT].locked if VAULT in app else 1))],
        ),
    ]
