"""Health: ejection on evidence, cooldowns, probes, per-model rate limits, pure queries."""

from __future__ import annotations

import pytest

from tokenhub.config import HealthSettings
from tokenhub.errors import ErrorKind
from tokenhub.routing.health import (
    CREDENTIAL_INVALID,
    DEGRADED,
    DOWN,
    HALF_OPEN,
    HEALTHY,
    PROBE_IN_FLIGHT,
    QUOTA_EXHAUSTED,
    RATE_LIMITED,
    HealthTracker,
)


def fail(health, model="m", provider="p", times=1, **kw):
    """Record ``times`` transient failures of ``model``."""
    for _ in range(times):
        health.failure(provider, model, ErrorKind.TRANSIENT, "500", **kw)


def test_one_transient_failure_does_not_eject(health, clock):
    """One 500 is not evidence: the model stays routable (degraded), not cooling down."""
    fail(health)
    model = health.model("m")
    assert model.state == DEGRADED
    assert model.blocked_reason(clock.monotonic()) is None


def test_consecutive_failures_eject(health, clock):
    """eject_consecutive (5) transient failures in a row eject the model for model_cooldown_s."""
    fail(health, times=4)
    assert health.model("m").blocked_reason(clock.monotonic()) is None
    fail(health)
    assert health.model("m").state == DOWN
    assert health.model("m").cooldown_left(clock.monotonic()) == 1.0


def test_error_rate_outlier_ejects_without_a_streak(clock):
    """A recent error rate over eject_error_rate with enough volume ejects, streak or not."""
    health = HealthTracker(clock, HealthSettings(eject_consecutive=100))
    for _ in range(12):
        fail(health)
        health.success("p", "m", 0.1)
        fail(health)
    assert health.model("m").state == DOWN


def test_timeout_ejects_the_model_at_once(health, clock):
    """A hang cut by a timeout ejects the model on its first occurrence (not the provider)."""
    fail(health, timed_out=True)
    assert health.model("m").state == DOWN
    assert health.provider("p").state == DEGRADED


def test_model_cooldown_grows_on_failed_probes(health, clock):
    """Each failed half-open probe doubles the model's cooldown."""
    fail(health, times=5)
    waits = []
    for _ in range(4):
        model = health.model("m")
        waits.append(round(model.cooldown_left(clock.monotonic()), 3))
        clock.advance(waits[-1])
        health.begin("p", "m")
        assert model.state == HALF_OPEN
        assert model.probing
        fail(health)
    assert waits == [1.0, 2.0, 4.0, 8.0]


def test_model_cooldown_is_capped(health, clock):
    """The growing cooldown stops at model_cooldown_max_s, even after thousands of probes."""
    fail(health, times=5)
    for _ in range(3000):  # the doubling's exponent is capped too: 2**1024 would overflow
        clock.advance(health.model("m").cooldown_left(clock.monotonic()))
        health.begin("p", "m")
        fail(health)
    assert health.model("m").cooldown_left(clock.monotonic()) == 60.0


def test_success_closes_the_circuit(health, clock):
    """A successful probe returns the model to healthy exactly and resets cooldown growth."""
    fail(health, times=5)
    clock.advance(1)
    health.begin("p", "m")
    for _ in range(20):  # enough successes to bring the recent error rate under 20 %
        health.success("p", "m", 0.3)
    assert health.model("m").state == HEALTHY
    assert health.model("m").trips == 0
    fail(health, times=5)
    assert health.model("m").cooldown_left(clock.monotonic()) == 1.0


def test_provider_circuit_opens_on_consecutive_failures(health, clock):
    """eject_consecutive failures in a row across a provider's models open its circuit."""
    for name in ("a", "b", "c", "d"):
        fail(health, model=name)
    assert health.provider("p").state == DEGRADED
    fail(health, model="e")
    assert health.provider("p").state == DOWN
    assert health.provider("p").cooldown_left(clock.monotonic()) == 5.0


def test_queries_change_nothing(health, clock):
    """Reading an expired cooldown shows half-open but moves nothing; begin() is the move."""
    fail(health, times=5)
    clock.advance(5)
    model = health.model("m")
    before = (model.state, model.probing, health.version)
    for _ in range(100):
        assert model.blocked_reason(clock.monotonic()) is None
        assert model.effective_state(clock.monotonic()) == HALF_OPEN
        model.error_rate(clock.monotonic(), 30.0)
    assert (model.state, model.probing, health.version) == before
    health.begin("p", "m")
    assert (model.state, model.probing) == (HALF_OPEN, True)
    assert model.blocked_reason(clock.monotonic()) == PROBE_IN_FLIGHT


def test_rate_limit_cools_the_model_not_the_provider(health, clock):
    """A 429 holds that model for exactly Retry-After; the provider and its other models go on."""
    health.failure("p", "m", ErrorKind.RATE_LIMITED, "429", retry_after=12)
    model = health.model("m")
    assert model.blocked_reason(clock.monotonic()) == RATE_LIMITED
    assert health.provider("p").blocked_reason(clock.monotonic()) is None
    assert health.model("other").blocked_reason(clock.monotonic()) is None
    clock.advance(11.9)
    assert model.blocked_reason(clock.monotonic()) == RATE_LIMITED
    clock.advance(0.1)
    assert model.blocked_reason(clock.monotonic()) is None
    assert model.effective_state(clock.monotonic()) == HALF_OPEN
    health.begin("p", "m")  # one probe goes; the rest wait for it, not all at once
    assert model.blocked_reason(clock.monotonic()) == PROBE_IN_FLIGHT
    health.success("p", "m", 0.1)
    assert model.state == HEALTHY


def test_rate_limit_without_retry_after_uses_default(health, clock):
    """Without Retry-After the model waits rate_limit_default_s."""
    health.failure("p", "m", ErrorKind.RATE_LIMITED, "429")
    assert health.model("m").cooldown_left(clock.monotonic()) == 5.0
    assert health.provider("p").cooldown_left(clock.monotonic()) == 0.0


def test_exhausted_headers_hold_the_model(health, clock):
    """Remaining 0 in an answer's headers holds the model until the reset, without a 429."""
    health.success("p", "m", 0.1)
    assert health.exhausted("m", 3.0)
    assert health.model("m").blocked_reason(clock.monotonic()) == RATE_LIMITED
    clock.advance(3.0)
    assert health.model("m").blocked_reason(clock.monotonic()) is None


def test_quota_exhausted_takes_the_provider_out_for_long(health, clock):
    """An exhausted quota is the account's: the provider is out for quota_cooldown_s."""
    health.failure("p", "m", ErrorKind.QUOTA_EXHAUSTED, "insufficient_quota")
    provider = health.provider("p")
    assert provider.blocked_reason(clock.monotonic()) == QUOTA_EXHAUSTED
    assert provider.cooldown_left(clock.monotonic()) == 3600.0


def test_auth_failure_marks_credential_invalid(health, clock):
    """A 401 marks the provider's credential invalid for auth_cooldown_s."""
    health.failure("p", "m", ErrorKind.AUTH, "401")
    assert health.provider("p").blocked_reason(clock.monotonic()) == CREDENTIAL_INVALID
    health.reset_provider("p")
    assert health.provider("p").state == HEALTHY


def test_fatal_and_context_overflow_do_not_hurt_health(health, clock):
    """The client's bad request or a too-long prompt says nothing about the model's health."""
    health.failure("p", "m", ErrorKind.FATAL, "400")
    health.failure("p", "m", ErrorKind.CONTEXT_OVERFLOW, "too long")
    assert (health.provider("p").state, health.model("m").state) == (HEALTHY, HEALTHY)
    assert health.model("m").error_rate(clock.monotonic(), 30.0) == 0


def test_error_rate_fades_without_traffic(health, clock):
    """Old failures fade with error_halflife_s: a model idle for minutes is not judged on them."""
    for _ in range(3):
        fail(health)
        health.success("p", "m", 0.1)
    now = clock.monotonic()
    fresh = health.model("m").error_rate(now, 30.0)
    assert fresh == pytest.approx(3 / 7)
    assert health.model("m").error_rate(now + 30.0, 30.0) == pytest.approx(1.5 / 4)
    assert health.model("m").error_rate(now + 600.0, 30.0) < 0.001


def test_latency_ewma(health):
    """Latency is an exponentially weighted average (alpha 0.3)."""
    health.success("p", "m", 1.0)
    health.success("p", "m", 2.0)
    assert round(health.model("m").latency_ewma_s, 6) == 1.3


def test_first_byte_timeout_adapts(health):
    """The adaptive timeout is factor x (mean + 4 deviations), floored; None at the ceiling."""
    assert health.first_byte_timeout("m", stream=False, ceiling_s=60.0) is None
    for _ in range(50):
        health.success("p", "m", 0.010)
    assert health.first_byte_timeout("m", stream=False, ceiling_s=60.0) == 1.0  # the floor
    for _ in range(50):
        health.success("p", "m", 2.0)
    timeout = health.first_byte_timeout("m", stream=False, ceiling_s=60.0)
    assert 6.0 <= timeout < 10.0
    assert health.first_byte_timeout("m", stream=False, ceiling_s=5.0) is None
    assert health.first_byte_timeout("m", stream=True, ceiling_s=60.0) is None
