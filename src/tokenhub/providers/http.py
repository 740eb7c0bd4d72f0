"""Transport pieces every HTTP adapter shares: deadline timeouts, retries, SSE reading.

Time comes from the injected ``Clock`` (deadlines are on its monotonic scale); the retry
loop's ``sleep`` and ``random`` are injectable, so backoff is deterministic under test.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tokenhub.clock import Clock
from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.transport import AttemptTimeout

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    """How an adapter retries transient failures and bounds each attempt.

    Backoff before retry ``n`` (0-based) is ``uniform(0, min(cap_s, base_s * 2**n))``
    ("full jitter"). ``connect_s`` caps connecting (including waiting for a pooled
    connection); time to first byte and silence mid-stream are capped by the provider's
    ``timeout_s``; everything is capped by the request deadline.
    """

    max_retries: int = 2
    base_s: float = 0.25
    cap_s: float = 4.0
    connect_s: float = 10.0


DEFAULT_POLICY = RetryPolicy()


def attempt_timeout(
    deadline: float,
    now: float,
    *,
    first_byte_s: float,
    connect_s: float,
    adaptive_first_byte_s: float | None = None,
) -> AttemptTimeout:
    """The timeouts of one attempt: connect, first byte (and silence) and total, all ≤ deadline.

    ``adaptive_first_byte_s`` shortens only the wait for the first byte (the executor's
    adaptive timeout while peers remain); the connection wait and silences keep theirs.
    Raises a transient ``ProviderError`` when the deadline has already passed.
    """
    remaining = deadline - now
    if remaining <= 0:
        raise ProviderError(ErrorKind.TRANSIENT, "deadline exceeded before the upstream call")
    read = min(first_byte_s, remaining)
    first = None if adaptive_first_byte_s is None else min(adaptive_first_byte_s, read)
    return AttemptTimeout(
        total=remaining, connect=min(connect_s, remaining), read=read, first_byte=first
    )


def backoff_s(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full-jitter backoff before retry number ``attempt`` (0-based)."""
    return rng.uniform(0.0, min(policy.cap_s, policy.base_s * 2**attempt))


class Retrier:
    """Runs an attempt again after transient failures, with backoff, within the deadline.

    Only ``transient`` errors are retried: a ``rate_limited`` one goes straight back to the
    router, which holds that model until Retry-After and reroutes. A backoff that would end
    at or past the deadline is not slept; the last error is raised instead.
    """

    def __init__(
        self,
        clock: Clock,
        policy: RetryPolicy = DEFAULT_POLICY,
        *,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        self.policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets

    async def run(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        deadline: float,
        max_retries: int | None,
        on_retry: Callable[[ProviderError], None] | None = None,
    ) -> tuple[T, int]:
        """Call ``attempt`` until it succeeds; return its value and the number of retries.

        ``max_retries`` lowers the policy's own limit (None: the policy's); ``on_retry`` is
        told of each failed try that is retried.
        """
        limit = self.policy.max_retries
        if max_retries is not None:
            limit = min(limit, max_retries)
        retries = 0
        while True:
            try:
                return await attempt(), retries
            except ProviderError as exc:
                exc.retries = retries
                if exc.kind is not ErrorKind.TRANSIENT or retries >= limit:
                    raise
                delay = backoff_s(retries, self.policy, self._rng)
                if self.clock.monotonic() + delay >= deadline:
                    raise
                if on_retry is not None:
                    on_retry(exc)
                await self._sleep(delay)
                retries += 1


@dataclass(slots=True, frozen=True)
class ServerSentEvent:
    """One SSE event: its ``event:`` name (None when absent) and joined ``data:`` lines."""

    event: str | None
    data: bytes


class SseParser:
    """Incremental SSE framing: bytes in, complete events out (comments and ids ignored).

    Splitting at blank lines first keeps the common event, one ``data:`` line, to a few C
    calls; ``parse_event`` reads the fields only of the events that are asked for.
    """

    def __init__(self) -> None:
        self._tail = b""

    def blocks(self, chunk: bytes) -> list[bytes]:
        """The raw events ``chunk`` completes (their lines, without the blank line)."""
        buffer = self._tail + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")  # a CR kept last is joined next time
        *blocks, self._tail = buffer.split(b"\n\n")
        return blocks

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Parse ``chunk``; return the events it completes."""
        return [e for b in self.blocks(chunk) if (e := parse_event(b)) is not None]


def parse_event(block: bytes) -> ServerSentEvent | None:
    """One raw event's name and data; None for one without data (only comments, say)."""
    if block.startswith(b"data: ") and b"\n" not in block:  # nearly every event
        return ServerSentEvent(None, block[6:])
    event: str | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data.append(_field_value(line, 5))
        elif line.startswith(b"event:"):
            event = _field_value(line, 6).decode("utf-8", "replace")
    return ServerSentEvent(event, b"\n".join(data)) if data else None


def _field_value(line: bytes, start: int) -> bytes:
    value = line[start:]
    return value[1:] if value.startswith(b" ") else value


class Body(Protocol):
    """An answer's body as it arrives (``UpstreamResponse``)."""

    async def readany(self) -> bytes:
        """What has arrived, waiting for some if nothing has; b"" at the end."""
        ...


class SseReader:
    """Reads server-sent events from an answer's body, one network read at a time.

    With ``record`` it keeps the raw bytes it has read until ``take_recording``, so a
    stream primed here can still be relayed byte for byte (providers/passthrough.py).
    """

    def __init__(self, content: Body, *, record: bool = False) -> None:
        self._content = content
        self._parser = SseParser()
        self._raw: list[bytes] | None = [] if record else None

    @property
    def recording(self) -> bool:
        """Whether every byte read so far is still kept."""
        return self._raw is not None

    async def blocks(self) -> list[bytes]:
        """Every raw event that what has arrived completes, reading on only while there is none.

        Empty at the end of the body (a partial event there is dropped). Nothing waits for
        more than the next network read, so a ready event is never held back.
        """
        while True:
            chunk = await self._content.readany()
            if not chunk:
                return []
            if self._raw is not None:
                self._raw.append(chunk)
            blocks = self._parser.blocks(chunk)
            if blocks:
                return blocks

    def take_recording(self) -> bytes:
        """The bytes read so far; recording stops."""
        raw, self._raw = self._raw or [], None
        return b"".join(raw)
