"""Health of providers and models: a circuit breaker with growing cooldowns and half-open probes.

States: ``healthy``; ``degraded`` (recent failures, still routed); ``down`` (cooling down
after failures: not routed until the cooldown ends); ``half_open`` (cooldown over: one
request may probe; success closes the circuit, failure reopens it for twice as long);
``rate_limited`` (provider asked us to wait: Retry-After); ``credential_invalid`` (the
provider refused our key); ``unavailable`` (a model the provider answered 404 for: out for
``model_unavailable_cooldown_s``, then one probe). Times are on the injected clock's
monotonic scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenhub.clock import Clock
from tokenhub.config import HealthSettings
from tokenhub.errors import ErrorKind

HEALTHY = "healthy"
DEGRADED = "degraded"
DOWN = "down"
HALF_OPEN = "half_open"
RATE_LIMITED = "rate_limited"
CREDENTIAL_INVALID = "credential_invalid"
UNAVAILABLE = "unavailable"
DEGRADED_ERROR_RATE = 0.2


@dataclass(slots=True)
class Health:
    """The tracked state of one provider or model."""

    state: str = HEALTHY
    consecutive_failures: int = 0
    trips: int = 0
    cooldown_until: float = 0.0
    probing: bool = False
    latency_ewma_s: float | None = None
    error_rate: float = 0.0
    requests: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None

    def blocked_reason(self, now: float) -> str | None:
        """Why this may not take a request now, or None (may flip down -> half_open)."""
        if self.state in (HEALTHY, DEGRADED):
            return None
        if now < self.cooldown_until:
            return self.state
        if self.state == RATE_LIMITED:
            self.state = HEALTHY if self.consecutive_failures == 0 else DEGRADED
            return None
        self.state = HALF_OPEN
        return "probe_in_flight" if self.probing else None

    def cooldown_left(self, now: float) -> float:
        """Seconds until the cooldown ends (0 when none)."""
        return max(0.0, self.cooldown_until - now)


class HealthTracker:
    """Tracks every provider and model; the router reads it, the executor updates it."""

    def __init__(self, clock: Clock, settings: HealthSettings) -> None:
        self.clock = clock
        self.settings = settings
        self.providers: dict[str, Health] = {}
        self.models: dict[str, Health] = {}
        # Grows whenever a state changes, so cached routing decisions know to recompute.
        self.version = 0

    def provider(self, provider_id: str) -> Health:
        """The health record of a provider (created healthy on first use)."""
        health = self.providers.get(provider_id)
        if health is None:
            health = self.providers[provider_id] = Health()
        return health

    def model(self, model_id: str) -> Health:
        """The health record of a model (created healthy on first use)."""
        health = self.models.get(model_id)
        if health is None:
            health = self.models[model_id] = Health()
        return health

    def begin(self, provider_id: str, model_id: str) -> None:
        """An attempt starts: a half-open record now has its one probe in flight."""
        for health in (self.provider(provider_id), self.model(model_id)):
            if health.state == HALF_OPEN and not health.probing:
                health.probing = True
                self.version += 1

    def success(self, provider_id: str, model_id: str, latency_s: float) -> list[str]:
        """Record a success; return the records whose state changed (for events)."""
        changed = []
        alpha = self.settings.latency_alpha
        for key, health in (
            ("provider", self.provider(provider_id)),
            ("model", self.model(model_id)),
        ):
            before = health.state
            self._observe(health, failed=False)
            health.consecutive_failures = 0
            health.trips = 0
            health.probing = False
            health.state = HEALTHY if health.error_rate < DEGRADED_ERROR_RATE else DEGRADED
            if key == "model":
                old = health.latency_ewma_s
                health.latency_ewma_s = (
                    latency_s if old is None else old + alpha * (latency_s - old)
                )
            if health.state != before:
                changed.append(f"{key}:{provider_id if key == 'provider' else model_id}")
        if changed:
            self.version += 1
        return changed

    def failure(
        self,
        provider_id: str,
        model_id: str,
        kind: ErrorKind,
        message: str,
        retry_after: float | None = None,
    ) -> list[str]:
        """Record a classified failure and apply its cooldown; return changed records."""
        provider, model = self.provider(provider_id), self.model(model_id)
        before = (provider.state, model.state)
        now = self.clock.monotonic()
        for health in (provider, model):
            health.last_error, health.last_error_kind = message[:300], str(kind)
        if kind is ErrorKind.RATE_LIMITED:
            self._observe(provider, failed=True)
            wait = retry_after if retry_after is not None else self.settings.rate_limit_default_s
            self._cool(provider, RATE_LIMITED, now + wait)
        elif kind is ErrorKind.AUTH:
            self._observe(provider, failed=True)
            self._cool(provider, CREDENTIAL_INVALID, now + self.settings.auth_cooldown_s)
        elif kind is ErrorKind.MODEL_UNAVAILABLE:
            # The model alone: the provider serves its other models fine.
            self._observe(model, failed=True)
            model.probing = False
            self._cool(model, UNAVAILABLE, now + self.settings.model_unavailable_cooldown_s)
        elif kind is ErrorKind.TRANSIENT:
            self._transient(provider, model, now)
        changed = []
        if provider.state != before[0]:
            changed.append(f"provider:{provider_id}")
        if model.state != before[1]:
            changed.append(f"model:{model_id}")
        self.version += 1  # cooldowns move even when the state name stays
        return changed

    def _transient(self, provider: Health, model: Health, now: float) -> None:
        s = self.settings
        for health in (provider, model):
            self._observe(health, failed=True)
            health.consecutive_failures += 1
            health.probing = False
        model_wait = min(s.model_cooldown_s * 2**model.trips, s.model_cooldown_max_s)
        model.trips += 1
        self._cool(model, DOWN, now + model_wait)
        if provider.consecutive_failures >= s.provider_trip_after or provider.state == HALF_OPEN:
            wait = min(s.provider_cooldown_s * 2**provider.trips, s.provider_cooldown_max_s)
            provider.trips += 1
            self._cool(provider, DOWN, now + wait)
        elif provider.state == HEALTHY:
            provider.state = DEGRADED

    @staticmethod
    def _cool(health: Health, state: str, until: float) -> None:
        health.state = state
        health.cooldown_until = max(health.cooldown_until, until)
        health.probing = False

    def _observe(self, health: Health, *, failed: bool) -> None:
        health.requests += 1
        health.failures += failed
        health.error_rate += self.settings.error_alpha * (float(failed) - health.error_rate)

    def reset_provider(self, provider_id: str) -> None:
        """Forget a provider's state (its configuration or credential changed)."""
        self.providers.pop(provider_id, None)
        self.version += 1
