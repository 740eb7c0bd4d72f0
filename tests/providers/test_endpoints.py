"""Endpoint selection (least in flight, round robin) and per-endpoint health."""

from __future__ import annotations

import asyncio

import pytest
from yarl import URL

from tokenhub.clock import FakeClock
from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.endpoints import Endpoint, EndpointSet, HealthPolicy

DOWN = ProviderError(ErrorKind.TRANSIENT, "HTTP 503")


def endpoints(clock: FakeClock, count: int = 2, **policy: float) -> EndpointSet:
    """``count`` endpoints named a, b, c, ..."""
    members = [
        Endpoint(f"http://{name}", URL(f"http://{name}/chat"), URL(f"http://{name}/models"))
        for name in "abcdefgh"[:count]
    ]
    return EndpointSet(members, clock, HealthPolicy(**policy))


def take(group: EndpointSet) -> str:
    """Acquire and release at once; the URL chosen."""
    endpoint = group.acquire()
    group.release(endpoint, None)
    return endpoint.url


def test_idle_endpoints_take_turns():
    """With nothing in flight, choices rotate round robin."""
    group = endpoints(FakeClock(), 3)
    assert [take(group) for _ in range(6)] == ["http://a", "http://b", "http://c"] * 2


def test_least_in_flight_wins():
    """A busy endpoint is passed over for an idle one."""
    group = endpoints(FakeClock(), 2)
    first = group.acquire()
    second = group.acquire()
    third = group.acquire()
    assert (first.url, second.url, third.url) == ("http://a", "http://b", "http://a")
    assert [s.in_flight for s in group.states()] == [2, 1]
    assert group.in_flight() == 3
    assert group.acquire().url == "http://b"


def test_failures_below_the_threshold_keep_it_healthy():
    """One transient failure is remembered but does not take the endpoint out."""
    group = endpoints(FakeClock(), failure_threshold=2)
    endpoint = group.acquire()
    group.release(endpoint, DOWN)
    state = group.states()[0]
    assert (state.healthy, state.consecutive_failures, state.last_error) == (True, 1, "HTTP 503")


def test_threshold_failures_cool_down_and_grow():
    """At the threshold an endpoint cools down; each further failure doubles the cooldown."""
    clock = FakeClock()
    group = endpoints(clock, 1, failure_threshold=2, base_cooldown_s=1.0, max_cooldown_s=5.0)
    [endpoint] = group.members
    expected = [None, 1.0, 2.0, 4.0, 5.0]
    for cooldown in expected:
        group.record(endpoint, DOWN)
        state = group.states()[0]
        if cooldown is None:
            assert state.healthy
        else:
            assert not state.healthy
            assert state.cooldown_until == clock.monotonic() + cooldown


def test_cooling_endpoint_is_skipped_then_half_open():
    """While cooling, traffic goes elsewhere; after it, one trial at a time may go back."""
    clock = FakeClock()
    group = endpoints(clock, 2, failure_threshold=1, base_cooldown_s=1.0)
    a, _ = group.members
    group.record(a, DOWN)
    assert [take(group) for _ in range(3)] == ["http://b"] * 3
    clock.advance(1.0)
    trial = group.acquire()
    assert trial is a
    assert trial.trial
    held_b = group.acquire()
    also = group.acquire()
    assert (held_b.url, also.url) == ("http://b", "http://b")  # no second trial on a


def test_successful_trial_restores_health():
    """A half-open trial that succeeds makes the endpoint healthy with a clean count."""
    clock = FakeClock()
    group = endpoints(clock, 1, failure_threshold=1)
    [a] = group.members
    group.record(a, DOWN)
    clock.advance(1.0)
    trial = group.acquire()
    group.release(trial, None)
    state = group.states()[0]
    assert (state.healthy, state.consecutive_failures, state.cooldown_until) == (True, 0, 0.0)
    assert not a.trial


def test_failed_trial_cools_down_longer():
    """A half-open trial that fails doubles the cooldown."""
    clock = FakeClock()
    group = endpoints(clock, 2, failure_threshold=1, base_cooldown_s=1.0)
    a, _ = group.members
    group.record(a, DOWN)
    clock.advance(1.0)
    group.release(group.acquire(), DOWN)
    assert group.states()[0].cooldown_until == clock.monotonic() + 2.0


@pytest.mark.parametrize("kind", [ErrorKind.RATE_LIMITED, ErrorKind.AUTH, ErrorKind.FATAL])
def test_answers_that_are_not_transient_count_as_healthy(kind):
    """A 429, 401 or 400 means the endpoint answered: it is healthy."""
    group = endpoints(FakeClock(), 1, failure_threshold=1)
    [a] = group.members
    group.record(a, DOWN)
    group.record(a, ProviderError(kind, "answered"))
    assert group.states()[0].healthy


def test_all_cooling_uses_the_soonest_not_an_error():
    """When every endpoint cools down, the one nearest half-open is used; no refusal."""
    clock = FakeClock()
    group = endpoints(clock, 2, failure_threshold=1, base_cooldown_s=1.0)
    a, b = group.members
    group.record(b, DOWN)
    clock.advance(0.5)
    group.record(a, DOWN)
    assert group.acquire() is b


def test_states_are_copies():
    """Mutating a returned state does not touch the live one."""
    group = endpoints(FakeClock(), 1)
    group.states()[0].in_flight = 99
    assert group.states()[0].in_flight == 0


def test_needs_an_endpoint():
    """An empty endpoint list is a programming error."""
    with pytest.raises(ValueError, match="at least one endpoint"):
        EndpointSet([], FakeClock())


def test_using_records_the_outcome():
    """``using`` counts a ProviderError against the endpoint and a clean block for it."""
    group = endpoints(FakeClock(), 1, failure_threshold=1)
    with pytest.raises(ProviderError), group.using():
        raise DOWN
    assert not group.states()[0].healthy
    with group.using() as endpoint:
        assert group.states()[0].in_flight == 1
    assert endpoint.state.healthy
    assert group.in_flight() == 0


def test_cancelled_trial_judges_nothing():
    """A cancelled half-open trial frees the slot and the trial but leaves health alone."""
    clock = FakeClock()
    group = endpoints(clock, 1, failure_threshold=1)
    [a] = group.members
    group.record(a, DOWN)
    clock.advance(1.0)
    with pytest.raises(asyncio.CancelledError), group.using():
        raise asyncio.CancelledError
    state = group.states()[0]
    assert (state.in_flight, state.healthy, state.consecutive_failures) == (0, False, 1)
    assert not a.trial


def test_a_long_outage_keeps_the_cooldown_at_its_cap():
    """Thousands of failures in a row stay at max_cooldown_s (no overflow from the doubling)."""
    clock = FakeClock()
    group = endpoints(clock, 1, failure_threshold=2, base_cooldown_s=1.0, max_cooldown_s=60.0)
    [endpoint] = group.members
    for _ in range(3000):
        group.record(endpoint, DOWN)
    assert group.states()[0].cooldown_until == clock.monotonic() + 60.0
