"""Health of providers and models: outlier ejection, half-open probes and hard blocks.

A *model* record is one (provider, model) pair: a model id in the registry belongs to one
provider. States:

- ``healthy``; ``degraded`` (a recent error rate of 20 % or more, still routed);
- ``down``: ejected on evidence, not on one error: a recent error rate of
  ``eject_error_rate`` over at least ``eject_min_requests`` requests (or behind a streak of
  ``eject_consecutive`` failures); a model also on the streak alone, or on a timeout, since
  a hang costs a whole timeout. A provider is never ejected on a streak alone: a provider
  failing 40 % of requests at high volume meets five in a row often, and taking it out
  would leave its peers the whole load (a total outage reaches 100 % at once). Out for a
  cooldown that doubles on repeats; then ``half_open``: one request probes, success closes
  the circuit, failure reopens it for twice as long;
- hard blocks, which panic routing never overrides while they last: ``rate_limited`` (a
  model answered 429, or its rate-limit headers said nothing is left: until Retry-After or
  the reset, then one probe),
  ``credential_invalid`` (the provider refused our key), ``quota_exhausted`` (the account is
  out of credit: the whole provider, for ``quota_cooldown_s``), ``unavailable`` (the
  provider answered 404 for the model).

Reading a record never changes it (``blocked_reason``, ``effective_state`` and
``error_rate`` are pure, so a ``/metrics`` scrape or a health view moves nothing); the one
transition from an expired cooldown to a probe happens in ``HealthTracker.begin``, when a
request is admitted as that probe. The recent error rate decays with time
(``error_halflife_s``), so a model that stopped getting traffic is not judged forever on
its old failures. Times are on the injected clock's monotonic scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from tokenhub.clock import Clock
from tokenhub.config import HealthSettings
from tokenhub.errors import ErrorKind

HEALTHY = "healthy"
DEGRADED = "degraded"
DOWN = "down"
HALF_OPEN = "half_open"
RATE_LIMITED = "rate_limited"
CREDENTIAL_INVALID = "credential_invalid"
QUOTA_EXHAUSTED = "quota_exhausted"
UNAVAILABLE = "unavailable"
PROBE_IN_FLIGHT = "probe_in_flight"
ROUTABLE = frozenset({HEALTHY, DEGRADED})
DEGRADED_ERROR_RATE = 0.2
LAST_N = 20
"""How many of a record's latest outcomes ``failing`` looks at."""
FAILING_SHARE = 0.9
"""The share of failures among them (of at least LAST_N / 2) that reads as down, not flaky."""
ERROR_PRIOR = 1.0
"""Virtual successes added to the recent counts: one failure of a fresh model reads 50 %,
not 100 %, and a model with no recent traffic reads 0 %."""
_LN2 = math.log(2.0)
_LAST_MASK = (1 << LAST_N) - 1
_CLOSED_BY_SUCCESS = ROUTABLE | {DOWN, HALF_OPEN}
"""States a success settles to healthy or degraded (hard blocks wait out their cooldown)."""


@dataclass(slots=True)
class LatencyStats:
    """Mean and mean deviation of successful upstream times (Jacobson's estimator)."""

    mean_s: float | None = None
    dev_s: float = 0.0

    def observe(self, seconds: float, alpha: float) -> None:
        """Fold in one successful call's time."""
        if self.mean_s is None:
            self.mean_s, self.dev_s = seconds, seconds / 2
            return
        self.dev_s += alpha * (abs(seconds - self.mean_s) - self.dev_s)
        self.mean_s += alpha * (seconds - self.mean_s)

    def high(self) -> float | None:
        """A high percentile (about p99): mean + 4 deviations, None before any sample."""
        return None if self.mean_s is None else self.mean_s + 4 * self.dev_s


@dataclass(slots=True)
class Health:
    """The tracked state of one provider or model."""

    state: str = HEALTHY
    consecutive_failures: int = 0
    trips: int = 0
    cooldown_until: float = 0.0
    probing: bool = False
    latency_ewma_s: float | None = None
    requests: int = 0
    failures: int = 0
    recent_failures: float = 0.0
    """Failures, each decayed by its age (half-life ``error_halflife_s``), at ``observed_at``."""
    recent_requests: float = 0.0
    observed_at: float = 0.0
    last_error: str | None = None
    last_error_kind: str | None = None
    last_outcomes: int = 0
    """The latest LAST_N outcomes as bits, newest lowest (1: failed)."""
    last_count: int = 0
    complete: LatencyStats = field(default_factory=LatencyStats)
    """Times of successful non-streaming calls (the whole answer)."""
    first_event: LatencyStats = field(default_factory=LatencyStats)
    """Times of successful streams to their first event."""

    def blocked_reason(self, now: float) -> str | None:
        """Why this may not take a request now, or None. Pure: changes nothing."""
        if self.state in ROUTABLE:
            return None
        if now < self.cooldown_until:
            return self.state
        return PROBE_IN_FLIGHT if self.probing else None

    def effective_state(self, now: float) -> str:
        """The state as it stands at ``now`` (an expired cooldown reads half-open). Pure."""
        if self.state in ROUTABLE or now < self.cooldown_until:
            return self.state
        return HALF_OPEN

    def failing(self) -> bool:
        """Whether nearly every recent try failed (a dead upstream, not a flaky one). Pure.

        Panic routing leaves such a model to its probes: a model failing 40 % of tries
        fails 18 of 20 in a row about once in 10^6 windows; a dead one at once.
        """
        count = self.last_count
        return count >= LAST_N // 2 and self.last_outcomes.bit_count() >= FAILING_SHARE * count

    def cooldown_left(self, now: float) -> float:
        """Seconds until the cooldown ends (0 when none)."""
        return max(0.0, self.cooldown_until - now)

    def error_rate(self, now: float, halflife_s: float) -> float:
        """The recent error rate at ``now``: decayed failures over decayed requests. Pure."""
        if self.recent_failures == 0.0:
            return 0.0
        decay = math.exp((self.observed_at - now) * _LN2 / halflife_s)
        return self.recent_failures * decay / (self.recent_requests * decay + ERROR_PRIOR)

    def recent_volume(self, now: float, halflife_s: float) -> float:
        """Recent requests, decayed by age. Pure."""
        return self.recent_requests * math.exp((self.observed_at - now) * _LN2 / halflife_s)


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

    def begin(self, provider_id: str, model_id: str) -> bool:
        """An attempt is admitted: the one transition an expired cooldown makes.

        A record whose cooldown has ended (an ejection, a rate-limit wait, a refused key)
        becomes ``half_open`` with this attempt as its one probe: others wait for its
        outcome instead of all arriving at once when a Retry-After ends. Returns whether
        the attempt is a probe (of the provider or the model).
        """
        now: float | None = None  # read only for a record that is out: nearly never
        probe = False
        for health in (self.provider(provider_id), self.model(model_id)):
            if health.state in ROUTABLE or health.probing:
                continue
            if now is None:
                now = self.clock.monotonic()
            if now < health.cooldown_until:
                continue
            health.state = HALF_OPEN
            health.probing = probe = True
            self.version += 1
        return probe

    def abandon(self, provider_id: str, model_id: str) -> None:
        """An attempt was cancelled (its client left): free the probe slots, judge nothing.

        The cancelled attempt may not be the probe; freeing the slot then lets one more
        probe in, which beats a slot held forever (the record stays half-open, blocked).
        """
        for health in (self.provider(provider_id), self.model(model_id)):
            if health.probing:
                health.probing = False
                self.version += 1

    def success(
        self, provider_id: str, model_id: str, latency_s: float, *, stream: bool = False
    ) -> list[str]:
        """Record a success (``latency_s``: the successful call's own time); changed records."""
        now = self.clock.monotonic()
        changed = []
        if self._succeeded(self.provider(provider_id), now):
            changed.append(f"provider:{provider_id}")
        model = self.model(model_id)
        self._latency(model, latency_s, stream=stream)
        if self._succeeded(model, now):
            changed.append(f"model:{model_id}")
        if changed:
            self.version += 1
        return changed

    def exhausted(self, model_id: str, wait_s: float) -> bool:
        """A model's rate-limit headers said nothing is left: hold it until the reset.

        Returns whether the model's state changed.
        """
        health = self.model(model_id)
        before = health.state
        self._cool(health, RATE_LIMITED, self.clock.monotonic() + wait_s)
        self.version += 1
        return health.state != before

    def failure(
        self,
        provider_id: str,
        model_id: str,
        kind: ErrorKind,
        message: str,
        retry_after: float | None = None,
        *,
        timed_out: bool = False,
    ) -> list[str]:
        """Record a classified failure and apply its rule; return changed records."""
        provider, model = self.provider(provider_id), self.model(model_id)
        before = (provider.state, model.state)
        now = self.clock.monotonic()
        s = self.settings
        for health in (provider, model):
            health.last_error, health.last_error_kind = message[:300], str(kind)
        if kind is ErrorKind.RATE_LIMITED:
            # Limits are per model (per model class) at OpenAI and Anthropic: the model
            # waits, the provider's other models go on. A 429 says nothing of reliability,
            # so the error rate is left alone: once the wait is over the model is as good.
            wait = retry_after if retry_after is not None else s.rate_limit_default_s
            self._cool(model, RATE_LIMITED, now + wait)
        elif kind is ErrorKind.QUOTA_EXHAUSTED:
            self._observe(provider, now, failed=True)
            self._cool(provider, QUOTA_EXHAUSTED, now + s.quota_cooldown_s)
        elif kind is ErrorKind.AUTH:
            self._observe(provider, now, failed=True)
            self._cool(provider, CREDENTIAL_INVALID, now + s.auth_cooldown_s)
        elif kind is ErrorKind.MODEL_UNAVAILABLE:
            # The model alone: the provider serves its other models fine.
            self._observe(model, now, failed=True)
            self._cool(model, UNAVAILABLE, now + s.model_unavailable_cooldown_s)
        elif kind is ErrorKind.TRANSIENT:
            self._transient(provider, model, now, timed_out=timed_out)
        changed = []
        if provider.state != before[0]:
            changed.append(f"provider:{provider_id}")
        if model.state != before[1]:
            changed.append(f"model:{model_id}")
        self.version += 1  # cooldowns move even when the state name stays
        return changed

    def first_byte_timeout(self, model_id: str, *, stream: bool, ceiling_s: float) -> float | None:
        """How long a try of ``model_id`` may wait for its answer's first byte.

        ``adaptive_timeout_factor`` times the model's recent p99 (mean + 4 deviations of its
        successful calls), at least ``adaptive_timeout_floor_s``; None when that is no
        shorter than ``ceiling_s`` (the provider's timeout, which then applies alone) or the
        model has not answered yet.
        """
        health = self.models.get(model_id)
        stats = None if health is None else (health.first_event if stream else health.complete)
        high = None if stats is None else stats.high()
        if high is None:
            return None
        s = self.settings
        wait = max(s.adaptive_timeout_floor_s, s.adaptive_timeout_factor * high)
        return wait if wait < ceiling_s else None

    def _transient(self, provider: Health, model: Health, now: float, *, timed_out: bool) -> None:
        s = self.settings
        for health in (provider, model):
            self._observe(health, now, failed=True)
            health.consecutive_failures += 1
            if health.state == DOWN and now < health.cooldown_until:
                # Already out: a panic-routed try, or one sent before the ejection. It
                # counts (the streak tells a dead model from a flaky one) but does not
                # grow the cooldown; only a failed probe does.
                continue
            probe_failed = health.state == HALF_OPEN
            health.probing = False
            streak = health.consecutive_failures >= s.eject_consecutive
            ejected = (
                probe_failed
                or self._rate_outlier(health, now, streak=streak)
                or (health is model and (streak or timed_out))
            )
            if ejected:
                base, cap = (
                    (s.model_cooldown_s, s.model_cooldown_max_s)
                    if health is model
                    else (s.provider_cooldown_s, s.provider_cooldown_max_s)
                )
                self._cool(health, DOWN, now + min(base * 2 ** min(health.trips, 30), cap))
                health.trips += 1
            elif health.state in ROUTABLE:
                health.state = self._routable_state(health, now)

    def _rate_outlier(self, health: Health, now: float, *, streak: bool) -> bool:
        """A recent error rate of ``eject_error_rate`` or more over enough requests.

        Behind a streak of failures fewer requests are enough evidence (low volume).
        """
        s = self.settings
        return (
            streak or health.recent_volume(now, s.error_halflife_s) >= s.eject_min_requests
        ) and health.error_rate(now, s.error_halflife_s) >= s.eject_error_rate

    def _succeeded(self, health: Health, now: float) -> bool:
        """Fold a success into one record; whether its state changed."""
        before = health.state
        self._observe(health, now, failed=False)
        health.consecutive_failures = 0
        health.trips = 0
        health.probing = False
        if before in _CLOSED_BY_SUCCESS:
            # No failure in its recent counts: healthy, no rate to work out (error_rate
            # would say 0).
            no_failures = health.recent_failures == 0.0
            health.state = HEALTHY if no_failures else self._routable_state(health, now)
        return health.state != before

    def _routable_state(self, health: Health, now: float) -> str:
        rate = health.error_rate(now, self.settings.error_halflife_s)
        return HEALTHY if rate < DEGRADED_ERROR_RATE else DEGRADED

    def _latency(self, health: Health, latency_s: float, *, stream: bool) -> None:
        alpha = self.settings.latency_alpha
        old = health.latency_ewma_s
        health.latency_ewma_s = latency_s if old is None else old + alpha * (latency_s - old)
        (health.first_event if stream else health.complete).observe(latency_s, alpha)

    @staticmethod
    def _cool(health: Health, state: str, until: float) -> None:
        health.state = state
        health.cooldown_until = max(health.cooldown_until, until)
        health.probing = False

    def _observe(self, health: Health, now: float, *, failed: bool) -> None:
        decay = math.exp((health.observed_at - now) * _LN2 / self.settings.error_halflife_s)
        health.recent_failures = health.recent_failures * decay + failed
        health.recent_requests = health.recent_requests * decay + 1.0
        health.observed_at = now
        health.requests += 1
        health.failures += failed
        health.last_outcomes = ((health.last_outcomes << 1) | failed) & _LAST_MASK
        if health.last_count < LAST_N:
            health.last_count += 1

    def reset_provider(self, provider_id: str) -> None:
        """Forget a provider's state (its configuration or credential changed)."""
        self.providers.pop(provider_id, None)
        self.version += 1
