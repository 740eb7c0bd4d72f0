"""The live set of API keys: authenticate, enforce scope, rate limit and budget."""

from __future__ import annotations

from tokenhub.auth.apikeys import ApiKey, key_id_of, matches
from tokenhub.auth.bucket import TokenBuckets
from tokenhub.auth.spend import SpendLedger
from tokenhub.clock import Clock
from tokenhub.errors import ForbiddenError, RateLimitedError, UnauthorizedError


class KeyRing:
    """Keys by id, with per-key rate limiting; ``spend`` holds their budgets' accounts."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.keys: dict[str, ApiKey] = {}
        self.spend = SpendLedger(clock)
        self._buckets = TokenBuckets()

    def load(self, keys: list[ApiKey]) -> None:
        """Replace every key."""
        self.keys = {k.id: k for k in keys}

    def authenticate(self, presented: str) -> ApiKey | None:
        """The key record for a presented key, or None when it is not a valid, live key."""
        key_id = key_id_of(presented)
        record = self.keys.get(key_id) if key_id else None
        if record is None or record.revoked or not matches(record, presented):
            return None
        return record

    def admit(self, presented: str | None, scope: str, *, required: bool) -> ApiKey | None:
        """Check a request's key; return its record (None: anonymous, allowed when optional)."""
        record = self.authenticate(presented) if presented else None
        if record is None:
            if required:
                raise UnauthorizedError("a valid tokenhub API key is required")
            return None
        if scope not in record.scopes:
            raise ForbiddenError(f"this key does not have the '{scope}' scope")
        self._rate_limit(record)
        self.spend.check(record)
        return record

    def _rate_limit(self, record: ApiKey) -> None:
        if record.rpm is None:
            return
        wait = self._buckets.take(record.id, record.rpm, self.clock.monotonic())
        if wait > 0:
            raise RateLimitedError(
                f"rate limit of {record.rpm} requests per minute reached for this key",
                retry_after=wait,
            )
