"""Injectable time and id sources, so time-based logic is tested with a fake clock."""

from __future__ import annotations

import os
import random
import secrets
import time
from typing import Protocol


class Clock(Protocol):
    """Wall-clock and monotonic time in seconds."""

    def time(self) -> float:
        """Seconds since the UNIX epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        """Seconds since the UNIX epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        return time.monotonic()


class FakeClock:
    """A clock tests move by hand with ``advance``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start
        self.mono = 1000.0

    def time(self) -> float:
        """The fake wall time."""
        return self.now

    def monotonic(self) -> float:
        """The fake monotonic time."""
        return self.mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        self.now += seconds
        self.mono += seconds


_FAST = random.Random(int.from_bytes(os.urandom(16), "big"))  # noqa: S311 - ids, not secrets


def request_id() -> str:
    """A 96-bit request id: unique in practice, not a secret, so no system RNG call."""
    return f"{_FAST.getrandbits(96):024x}"


def new_id(prefix: str = "") -> str:
    """A random 96-bit id, hex encoded, with an optional prefix."""
    return f"{prefix}{secrets.token_hex(12)}"
