"""The circuit breaker: cooldowns that grow, half-open probes, rate-limit and auth cooldowns."""

from __future__ import annotations

from tokenhub.errors import ErrorKind
from tokenhub.routing.health import (
    CREDENTIAL_INVALID,
    DEGRADED,
    DOWN,
    HALF_OPEN,
    HEALTHY,
    RATE_LIMITED,
)


def test_model_cooldown_grows_on_repeats(health, clock):
    """Each transient failure after a failed probe doubles the model's cooldown."""
    waits = []
    for _ in range(4):
        health.failure("p", "m", ErrorKind.TRANSIENT, "500")
        model = health.model("m")
        waits.append(round(model.cooldown_left(clock.monotonic()), 3))
        clock.advance(waits[-1])
        assert model.blocked_reason(clock.monotonic()) is None
        assert model.state == HALF_OPEN
    assert waits == [1.0, 2.0, 4.0, 8.0]


def test_model_cooldown_is_capped(health, clock):
    """The growing cooldown stops at model_cooldown_max_s."""
    for _ in range(12):
        health.failure("p", "m", ErrorKind.TRANSIENT, "500")
        clock.advance(health.model("m").cooldown_left(clock.monotonic()))
    health.failure("p", "m", ErrorKind.TRANSIENT, "500")
    assert health.model("m").cooldown_left(clock.monotonic()) == 60.0


def test_success_closes_the_circuit(health, clock):
    """A successful probe returns the model to healthy and resets its cooldown growth."""
    health.failure("p", "m", ErrorKind.TRANSIENT, "500")
    clock.advance(1)
    health.model("m").blocked_reason(clock.monotonic())
    changed = health.success("p", "m", 0.3)
    assert "model:m" in changed
    assert health.model("m").state in (HEALTHY, DEGRADED)
    assert health.model("m").trips == 0
    health.failure("p", "m", ErrorKind.TRANSIENT, "500")
    assert health.model("m").cooldown_left(clock.monotonic()) == 1.0


def test_provider_trips_after_consecutive_failures(health, clock):
    """Three transient failures in a row on any of its models take the provider down."""
    health.failure("p", "a", ErrorKind.TRANSIENT, "500")
    assert health.provider("p").state == DEGRADED
    health.failure("p", "b", ErrorKind.TRANSIENT, "500")
    health.failure("p", "c", ErrorKind.TRANSIENT, "500")
    assert health.provider("p").state == DOWN
    assert health.provider("p").cooldown_left(clock.monotonic()) == 5.0


def test_rate_limit_cooldown_uses_retry_after(health, clock):
    """A 429 cools the provider for exactly Retry-After seconds, then it is usable again."""
    health.failure("p", "m", ErrorKind.RATE_LIMITED, "429", retry_after=12)
    provider = health.provider("p")
    assert provider.state == RATE_LIMITED
    assert provider.blocked_reason(clock.monotonic()) == RATE_LIMITED
    clock.advance(12)
    assert provider.blocked_reason(clock.monotonic()) is None
    assert health.model("m").state == HEALTHY


def test_rate_limit_without_retry_after_uses_default(health, clock):
    """Without Retry-After the provider cools for rate_limit_default_s."""
    health.failure("p", "m", ErrorKind.RATE_LIMITED, "429")
    assert health.provider("p").cooldown_left(clock.monotonic()) == 5.0


def test_auth_failure_marks_credential_invalid(health, clock):
    """A 401 marks the provider's credential invalid for auth_cooldown_s."""
    health.failure("p", "m", ErrorKind.AUTH, "401")
    assert health.provider("p").blocked_reason(clock.monotonic()) == CREDENTIAL_INVALID
    health.reset_provider("p")
    assert health.provider("p").state == HEALTHY


def test_fatal_and_context_overflow_do_not_hurt_health(health):
    """The client's bad request or a too-long prompt says nothing about the model's health."""
    health.failure("p", "m", ErrorKind.FATAL, "400")
    health.failure("p", "m", ErrorKind.CONTEXT_OVERFLOW, "too long")
    assert (health.provider("p").state, health.model("m").state) == (HEALTHY, HEALTHY)
    assert health.model("m").error_rate == 0


def test_latency_ewma(health):
    """Latency is an exponentially weighted average (alpha 0.3)."""
    health.success("p", "m", 1.0)
    health.success("p", "m", 2.0)
    assert round(health.model("m").latency_ewma_s, 6) == 1.3
