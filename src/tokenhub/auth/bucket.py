"""A per-key token bucket: ``rpm`` requests per minute, bursts up to ``rpm``.

Tokenhub's own rather than the ``limits`` library's in-memory storage: that storage
starts a timer thread to expire keys, which under load meant hundreds of short-lived
threads every few seconds, and it reads the wall clock itself, so tests could not drive
it. This is a few float operations per request on the injected monotonic clock. (A
shared, Redis-backed limiter for several replicas belongs with the scale-out work.)
"""

from __future__ import annotations

from dataclasses import dataclass

SECONDS_PER_MINUTE = 60.0


@dataclass(slots=True)
class Bucket:
    """Tokens left and when they were last topped up."""

    tokens: float
    updated: float


class TokenBuckets:
    """One bucket per key id."""

    def __init__(self) -> None:
        self._buckets: dict[str, Bucket] = {}

    def take(self, key: str, rpm: int, now: float) -> float:
        """Spend one token; return 0 when allowed, else the seconds until one is available."""
        rate = rpm / SECONDS_PER_MINUTE
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(float(rpm), now)
        else:
            bucket.tokens = min(float(rpm), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    def forget(self, key: str) -> None:
        """Drop a key's bucket (revoked or rotated)."""
        self._buckets.pop(key, None)
