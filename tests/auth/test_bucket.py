"""The per-key token bucket: bursts up to rpm, refills at rpm per minute, says how long to wait."""

from __future__ import annotations

import pytest

from tokenhub.auth.bucket import TokenBuckets


def test_burst_then_refusal_with_wait():
    """A fresh key may burst its whole rpm; the next request waits one token's refill time."""
    buckets = TokenBuckets()
    assert [buckets.take("k", 3, 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k", 3, 100.0) == pytest.approx(20.0)  # 3/min: a token per 20 s


def test_refill_over_time_and_cap():
    """Tokens come back at rpm/60 per second, never beyond rpm."""
    buckets = TokenBuckets()
    for _ in range(60):
        buckets.take("k", 60, 0.0)
    assert buckets.take("k", 60, 0.5) > 0  # half a token: not yet
    assert buckets.take("k", 60, 1.0) == 0.0  # a second later: one token
    assert [buckets.take("k", 60, 1000.0) for _ in range(60)] == [0.0] * 60  # capped at 60
    assert buckets.take("k", 60, 1000.0) > 0


def test_keys_are_independent_and_forgettable():
    """Each key has its own bucket; forgetting one starts it afresh."""
    buckets = TokenBuckets()
    buckets.take("a", 1, 0.0)
    assert buckets.take("a", 1, 0.0) > 0
    assert buckets.take("b", 1, 0.0) == 0.0
    buckets.forget("a")
    assert buckets.take("a", 1, 0.0) == 0.0
