"""A growing penalty after wrong vault passwords, measured on the injected clock.

The vault refuses attempts during the penalty window without deriving a key, so guessing
online costs time as well as Argon2 work. The counter lives in memory: it resets when the
daemon restarts, which is acceptable because whoever can restart the daemon gains nothing
over an attacker with a copy of the database, who is slowed only by Argon2id anyway.
"""

from __future__ import annotations

from tokenhub.clock import Clock
from tokenhub.errors import VaultThrottledError

FREE_ATTEMPTS = 2
MAX_DELAY_S = 30.0
_MAX_EXPONENT = 16  # 2**16 s is far beyond any sane cap; keeps the float finite


def penalty_delay(failures: int, cap: float = MAX_DELAY_S) -> float:
    """Seconds to wait after ``failures`` wrong passwords in a row: 0, 0, 1, 2, 4, … ≤ cap."""
    if failures <= FREE_ATTEMPTS:
        return 0.0
    return min(2.0 ** min(failures - FREE_ATTEMPTS - 1, _MAX_EXPONENT), cap)


class Throttle:
    """Counts consecutive failures and the monotonic time before which attempts are refused."""

    def __init__(self, clock: Clock, cap: float = MAX_DELAY_S) -> None:
        self._clock = clock
        self._cap = cap
        self.failures = 0
        self._blocked_until = 0.0

    def retry_after(self) -> float:
        """Seconds until the next attempt is accepted (0 when it is accepted now)."""
        if self.failures == 0:
            return 0.0
        return max(0.0, self._blocked_until - self._clock.monotonic())

    def check(self) -> None:
        """Raise VaultThrottledError while inside the penalty window."""
        wait = self.retry_after()
        if wait > 0:
            raise VaultThrottledError(
                f"too many wrong vault passwords; retry in {wait:.0f} s", retry_after=wait
            )

    def failed(self) -> float:
        """Record a wrong password; returns the penalty it starts."""
        self.failures += 1
        delay = penalty_delay(self.failures, self._cap)
        self._blocked_until = self._clock.monotonic() + delay
        return delay

    def succeeded(self) -> None:
        """A right password resets the counter."""
        self.failures = 0
        self._blocked_until = 0.0
