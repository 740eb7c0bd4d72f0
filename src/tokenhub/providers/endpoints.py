"""Choosing among a provider's base URLs, and tracking the health of each.

Selection is least in-flight among available endpoints, ties broken round robin. An
endpoint that fails ``failure_threshold`` times in a row (connection errors, timeouts,
5xx: transient failures only) cools down for ``base_cooldown_s``, doubling with each
further failure up to ``max_cooldown_s``. When the cooldown ends it is half-open: one
request (or a probe) may try it; success makes it healthy, failure cools it down longer.
A single-URL provider runs the same code with one endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from yarl import URL

from tokenhub.clock import Clock
from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.base import EndpointState


@dataclass(slots=True, frozen=True)
class HealthPolicy:
    """When an endpoint is taken out of rotation, and for how long."""

    failure_threshold: int = 2
    base_cooldown_s: float = 1.0
    max_cooldown_s: float = 60.0


DEFAULT_HEALTH = HealthPolicy()


class Endpoint:
    """One base URL: its public ``state``, its precomputed URLs, whether a trial is out."""

    __slots__ = ("chat_url", "models_url", "state", "trial")

    def __init__(self, url: str, chat_url: URL, models_url: URL) -> None:
        self.state = EndpointState(url=url)
        self.chat_url = chat_url
        self.models_url = models_url
        self.trial = False

    @property
    def url(self) -> str:
        """The base URL as configured."""
        return self.state.url


class EndpointSet:
    """The endpoints of one provider with their health; not thread-safe (one event loop)."""

    def __init__(
        self, endpoints: list[Endpoint], clock: Clock, policy: HealthPolicy = DEFAULT_HEALTH
    ) -> None:
        if not endpoints:
            raise ValueError("a provider needs at least one endpoint")
        self._all = endpoints
        self._clock = clock
        self._policy = policy
        self._next = 0

    @property
    def members(self) -> list[Endpoint]:
        """The endpoints in configuration order."""
        return self._all

    def acquire(self) -> Endpoint:
        """Take the least-loaded available endpoint (counted in flight until ``release``).

        Health steers traffic among endpoints but never refuses a call: when every
        endpoint is cooling down, the one nearest its half-open time is used, and the
        router's own breaker decides whether the provider is tried at all.
        """
        now = self._clock.monotonic()
        count = len(self._all)
        best: Endpoint | None = None
        best_index = 0
        for offset in range(count):
            index = (self._next + offset) % count
            endpoint = self._all[index]
            if self._available(endpoint, now) and (
                best is None or endpoint.state.in_flight < best.state.in_flight
            ):
                best, best_index = endpoint, index
        if best is None:
            best_index, best = min(
                enumerate(self._all), key=lambda item: item[1].state.cooldown_until
            )
        self._next = best_index + 1
        if not best.state.healthy:
            best.trial = True
        best.state.in_flight += 1
        return best

    def release(
        self, endpoint: Endpoint, error: ProviderError | None, *, counted: bool = True
    ) -> None:
        """End a request on ``endpoint``; a transient ``error`` counts against its health.

        ``counted`` False (the caller was cancelled) frees the slot and any half-open trial
        without judging the endpoint either way.
        """
        endpoint.state.in_flight -= 1
        endpoint.trial = False
        if counted:
            self.record(endpoint, error)

    def release_failed(self, endpoint: Endpoint, exc: BaseException) -> None:
        """End a request that raised: a ProviderError is judged, anything else (a cancel) not.

        Nor is ``overloaded``: tokenhub's own slots were full, the endpoint never saw it.
        """
        if isinstance(exc, ProviderError) and exc.kind is not ErrorKind.OVERLOADED:
            self.release(endpoint, exc)
        else:
            self.release(endpoint, None, counted=False)

    @contextmanager
    def using(self) -> Iterator[Endpoint]:
        """Acquire an endpoint for the block; its outcome (error, success, cancel) is recorded."""
        endpoint = self.acquire()
        try:
            yield endpoint
        except BaseException as exc:
            self.release_failed(endpoint, exc)
            raise
        self.release(endpoint, None)

    def record(self, endpoint: Endpoint, error: ProviderError | None) -> None:
        """Count an outcome (of a request or a probe) towards the endpoint's health."""
        state = endpoint.state
        if error is None or error.kind is not ErrorKind.TRANSIENT:
            state.healthy = True
            state.consecutive_failures = 0
            state.cooldown_until = 0.0
            return
        state.consecutive_failures += 1
        state.last_error = error.message
        excess = state.consecutive_failures - self._policy.failure_threshold
        if excess >= 0:
            policy = self._policy
            cooldown = min(policy.max_cooldown_s, policy.base_cooldown_s * 2 ** min(excess, 30))
            state.healthy = False
            state.cooldown_until = self._clock.monotonic() + cooldown

    def cool(self, endpoint: Endpoint, seconds: float) -> float:
        """Take ``endpoint`` out for ``seconds`` (it said it is busy).

        Returns how long until any endpoint of the set is available again (0: one is now).
        """
        now = self._clock.monotonic()
        state = endpoint.state
        state.healthy = False
        state.cooldown_until = max(state.cooldown_until, now + seconds)
        waits = [
            0.0 if self._available(e, now) else e.state.cooldown_until - now for e in self._all
        ]
        return max(0.0, min(waits))

    def states(self) -> list[EndpointState]:
        """Copies of every endpoint's state, in configuration order."""
        return [replace(e.state) for e in self._all]

    def in_flight(self) -> int:
        """Requests currently open across all endpoints."""
        return sum(e.state.in_flight for e in self._all)

    @staticmethod
    def _available(endpoint: Endpoint, now: float) -> bool:
        state = endpoint.state
        return state.healthy or (now >= state.cooldown_until and not endpoint.trial)
