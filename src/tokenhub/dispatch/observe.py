"""What the executor reports as it works: metrics and events, in one place."""

from __future__ import annotations

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.observability.events import EventBus
from tokenhub.observability.metrics import Metrics
from tokenhub.routing.health import HealthTracker
from tokenhub.schemas import ModelConfig, ProviderConfig


class ExecutionObserver:
    """Records attempt outcomes as metrics and publishes failover and health events."""

    def __init__(
        self, metrics: Metrics | None, events: EventBus | None, health: HealthTracker
    ) -> None:
        self.metrics = metrics
        self.events = events
        self.health = health

    def failed(
        self,
        provider: ProviderConfig,
        model: ModelConfig,
        exc: ProviderError,
        elapsed_s: float,
        changed: list[str],
    ) -> None:
        """An attempt failed; the request moves on unless the error is fatal."""
        kind = str(exc.kind)
        if self.metrics is not None:
            self.metrics.upstream_duration.labels(provider.id, model.id, "error").observe(elapsed_s)
            if exc.retries:
                self.metrics.retries.labels(provider.id).inc(exc.retries)
            if exc.kind is not ErrorKind.FATAL:
                self.metrics.failovers.labels(kind).inc()
            if exc.kind is ErrorKind.CONTEXT_OVERFLOW:
                self.metrics.escalations.labels(kind).inc()
        if self.events is None:
            return
        if exc.kind is not ErrorKind.FATAL:
            name = (
                "routing.escalation"
                if exc.kind is ErrorKind.CONTEXT_OVERFLOW
                else "routing.failover"
            )
            self.events.publish(
                name, model=model.id, provider=provider.id, kind=kind, error=exc.message
            )
        if exc.kind is ErrorKind.RATE_LIMITED:
            left = self.health.model(model.id).cooldown_left(self.health.clock.monotonic())
            self.events.publish(
                "ratelimit.cooldown", provider=provider.id, model=model.id, seconds=round(left, 3)
            )
        self._transitions(changed)

    def succeeded(
        self,
        provider: ProviderConfig,
        model: ModelConfig,
        elapsed_s: float,
        retries: int,
        changed: list[str],
    ) -> None:
        """An attempt succeeded."""
        if self.metrics is not None:
            self.metrics.upstream_duration.labels(provider.id, model.id, "ok").observe(elapsed_s)
            if retries:
                self.metrics.retries.labels(provider.id).inc(retries)
        self._transitions(changed)

    def panicked(self, mode: str, model: ModelConfig) -> None:
        """Every eligible model was ejected: the request goes to the least bad of them."""
        if self.metrics is not None:
            self.metrics.panics.labels(mode).inc()
        if self.events is not None:
            self.events.publish("routing.panic", mode=mode, model=model.id, provider=model.provider)

    def _transitions(self, changed: list[str]) -> None:
        if self.events is None:
            return
        for key in changed:
            kind, _, ident = key.partition(":")
            record = self.health.provider(ident) if kind == "provider" else self.health.model(ident)
            self.events.publish("health.changed", target=key, state=record.state)
