"""The live set of API keys: authenticate, enforce scope, rate limit and budget, charge."""

from __future__ import annotations

from tokenhub.auth.apikeys import DAY_S, ApiKey, key_id_of, matches, period_start
from tokenhub.auth.bucket import TokenBuckets
from tokenhub.clock import Clock
from tokenhub.errors import (
    BudgetExceededError,
    ForbiddenError,
    RateLimitedError,
    UnauthorizedError,
)


class KeyRing:
    """Keys by id, with per-key rate limiting and spend tracking (flushed by the owner)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.keys: dict[str, ApiKey] = {}
        self.dirty: set[str] = set()
        self._buckets = TokenBuckets()
        self._periods: dict[str, tuple[float | None, float]] = {}

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
        self._budget(record)
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

    def _budget(self, record: ApiKey) -> None:
        self._roll_period(record)
        if record.budget_usd is not None and record.spent_usd >= record.budget_usd:
            raise BudgetExceededError(
                f"this key's budget of ${record.budget_usd:.2f}"
                f" per {record.budget_period or 'total'} is spent"
            )

    def _roll_period(self, record: ApiKey) -> None:
        now = self.clock.time()
        cached = self._periods.get(record.id)
        if cached is not None and now < cached[1]:
            start = cached[0]  # periods only change at a UTC midnight: no calendar maths
        else:
            start = period_start(record.budget_period, now)
            self._periods[record.id] = (start, (now // DAY_S + 1) * DAY_S)
        if start is not None and (record.period_start or 0.0) < start:
            record.period_start = start
            record.spent_usd = 0.0
            self.dirty.add(record.id)

    def charge(self, record: ApiKey, cost_usd: float) -> None:
        """Add a request's real cost to the key's spend."""
        if cost_usd <= 0:
            return
        self._roll_period(record)
        record.spent_usd += cost_usd
        self.dirty.add(record.id)

    def take_dirty(self) -> list[ApiKey]:
        """Keys whose spend changed since the last call."""
        changed = [self.keys[k] for k in self.dirty if k in self.keys]
        self.dirty.clear()
        return changed
