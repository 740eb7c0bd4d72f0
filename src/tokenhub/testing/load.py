"""Closed-loop load against a running gateway: N clients for T seconds, every outcome kept.

The clients speak the OpenAI chat-completions wire format (what the official SDK sends)
over raw aiohttp, so the harness itself costs little CPU and sees every header. Each
request's status, latency, ``X-Tokenhub-*`` headers and, for streams, the gaps between
chunks are recorded; ``summarize`` turns them into the figures of docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

CHAT_PATH = "/v1/chat/completions"
DONE = b"data: [DONE]"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request as a client saw it; ``status`` 0 means no HTTP answer arrived."""

    started: float
    latency_s: float
    status: int
    error_type: str | None = None
    attempts: int | None = None
    model: str | None = None
    provider: str | None = None
    cost_usd: float | None = None
    retry_after: str | None = None
    completed: bool = False
    chunk_gaps: tuple[float, ...] = ()

    @property
    def ok(self) -> bool:
        """A 200 whose body (or stream, to its ``[DONE]``) arrived whole."""
        return self.status == HTTPStatus.OK and self.completed


@dataclass(frozen=True, slots=True)
class LoadRequest:
    """What every client sends: a chat-completions body and extra headers."""

    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    path: str = CHAT_PATH

    @property
    def stream(self) -> bool:
        """Whether the body asks for a streamed answer."""
        return bool(self.body.get("stream"))


def chat_request(
    model: str,
    *,
    stream: bool = False,
    max_tokens: int | None = None,
    prompt: str = "Say something.",
    api_key: str | None = None,
) -> LoadRequest:
    """A one-message chat request for ``model``, as the OpenAI SDK would send it."""
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    if stream:
        body["stream"] = True
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    return LoadRequest(body, headers)


@dataclass(slots=True)
class LoadRun:
    """The outcomes of one run, with its start on the wall clock (the simulator's clock)."""

    outcomes: list[Outcome]
    wall_start: float
    duration_s: float
    marks: list[float] = field(default_factory=list)
    """When each scheduled action actually ran, in seconds from the start, in order."""


Action = Callable[[], Awaitable[None] | None]


async def run_load(
    url: str,
    request: LoadRequest,
    *,
    concurrency: int,
    duration_s: float,
    timeout_s: float = 30.0,
    schedule: Sequence[tuple[float, Action]] = (),
) -> LoadRun:
    """Run ``concurrency`` clients back to back for ``duration_s``; wait for the last ones.

    ``schedule`` holds ``(offset_s, action)`` pairs run at those offsets from the start
    (switching a simulated fault on or off, for example). A request started before the
    deadline always finishes (or times out after ``timeout_s``) and is counted.
    """
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    outcomes: list[Outcome] = []
    async with aiohttp.ClientSession(url, connector=connector) as session:
        start = time.monotonic()
        wall_start = time.time()
        deadline = start + duration_s

        async def client() -> None:
            while time.monotonic() < deadline:
                outcomes.append(await send(session, request, start, timeout_s))

        actions = asyncio.gather(*(_at(start, offset, action) for offset, action in schedule))
        await asyncio.gather(*(client() for _ in range(concurrency)))
        marks = await actions
    return LoadRun(outcomes, wall_start, time.monotonic() - start, list(marks))


async def run_batch(
    url: str, request: LoadRequest, *, count: int, timeout_s: float = 60.0
) -> LoadRun:
    """Send ``count`` copies of ``request`` at once (one each, not closed-loop); keep all."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        start, wall_start = time.monotonic(), time.time()
        outcomes = await asyncio.gather(
            *(send(session, request, start, timeout_s) for _ in range(count))
        )
    return LoadRun(list(outcomes), wall_start, time.monotonic() - start)


async def _at(start: float, offset: float, action: Action) -> float:
    """Run ``action`` at ``offset`` seconds after ``start``; return when it really ran."""
    await asyncio.sleep(max(0.0, start + offset - time.monotonic()))
    ran = time.monotonic() - start
    result = action()
    if result is not None:
        await result
    return ran


async def send(
    session: aiohttp.ClientSession, request: LoadRequest, epoch: float, timeout_s: float
) -> Outcome:
    """Send one request and record what came back (``epoch``: the run's monotonic start)."""
    begun = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with session.post(
            request.path, json=request.body, headers=request.headers, timeout=timeout
        ) as response:
            if response.status == HTTPStatus.OK and request.stream:
                completed, gaps = await _read_stream(response)
                error_type = None
            else:
                body = await response.read()
                completed, gaps = True, ()
                failed = response.status >= HTTPStatus.BAD_REQUEST
                error_type = _error_type(body) if failed else None
            return _outcome(
                response, begun - epoch, time.monotonic() - begun, error_type, completed, gaps
            )
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Outcome(begun - epoch, time.monotonic() - begun, 0, type(exc).__name__)


def _outcome(
    response: aiohttp.ClientResponse,
    started: float,
    latency_s: float,
    error_type: str | None,
    completed: bool,
    gaps: tuple[float, ...],
) -> Outcome:
    headers = response.headers
    attempts = headers.get("X-Tokenhub-Attempts")
    cost = headers.get("X-Tokenhub-Cost-USD")
    return Outcome(
        started=started,
        latency_s=latency_s,
        status=response.status,
        error_type=error_type,
        attempts=int(attempts) if attempts else None,
        model=headers.get("X-Tokenhub-Model"),
        provider=headers.get("X-Tokenhub-Provider"),
        cost_usd=float(cost) if cost else None,
        retry_after=headers.get("Retry-After"),
        completed=completed,
        chunk_gaps=gaps,
    )


async def _read_stream(response: aiohttp.ClientResponse) -> tuple[bool, tuple[float, ...]]:
    """Read an SSE body to its end; True if ``[DONE]`` came, and the gaps between events.

    The body is read as it arrives, not line by line, so a thousand streams cost the
    client little: events that arrive together count as gaps of zero after the first.
    """
    gaps: list[float] = []
    last: float | None = None
    tail = b""
    async for data in response.content.iter_any():
        now = time.monotonic()
        events = (tail + data).count(b"data:") - tail.count(b"data:")
        if events:
            if last is not None:
                gaps.append(now - last)
            gaps.extend([0.0] * (events - 1))
            last = now
        tail = (tail + data)[-len(DONE) - 2 :]
    return DONE in tail, tuple(gaps)


def _error_type(body: bytes) -> str | None:
    with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
        error = orjson.loads(body).get("error")
        if isinstance(error, dict):
            kind = error.get("type") or error.get("code")
            return str(kind) if kind is not None else None
    return None


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0-100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True, slots=True)
class Summary:
    """The figures of one run: what the reliability table reports."""

    requests: int
    succeeded: int
    attempts_per_request: float
    p50_s: float
    p99_s: float
    statuses: Mapping[int, int]
    error_types: Mapping[str, int]

    @property
    def success_pct(self) -> float:
        """Successful requests in percent of all requests."""
        return 100.0 * self.succeeded / self.requests if self.requests else 0.0

    def describe(self) -> str:
        """One line for the table: success, attempts, latency, the statuses seen."""
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(self.statuses.items()))
        return (
            f"{self.success_pct:.2f} % of {self.requests} ok; "
            f"{self.attempts_per_request:.2f} attempts/request; "
            f"p50 {self.p50_s * 1000:.0f} ms, p99 {self.p99_s * 1000:.0f} ms; {statuses}"
        )


def summarize(outcomes: Sequence[Outcome]) -> Summary:
    """Success share, mean ``X-Tokenhub-Attempts`` (answers that carry it), p50 and p99."""
    latencies = [o.latency_s for o in outcomes]
    attempts = [o.attempts for o in outcomes if o.attempts is not None]
    return Summary(
        requests=len(outcomes),
        succeeded=sum(o.ok for o in outcomes),
        attempts_per_request=sum(attempts) / len(attempts) if attempts else 0.0,
        p50_s=percentile(latencies, 50),
        p99_s=percentile(latencies, 99),
        statuses=Counter(o.status for o in outcomes),
        error_types=Counter(o.error_type for o in outcomes if o.error_type),
    )


async def leave_mid_body(url: str, *, declared: int = 4096, sent: int = 64) -> None:
    """Open a chat request declaring ``declared`` body bytes, send ``sent``, and hang up."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    head = (
        f"POST {CHAT_PATH} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {declared}\r\n\r\n"
    )
    writer.write(head.encode() + b'{"model": "auto", "messages": ['[:sent].ljust(sent, b" "))
    await writer.drain()
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()
    del reader


async def leave_mid_stream(
    session: aiohttp.ClientSession, request: LoadRequest, *, after_chunks: int
) -> int:
    """Start a streamed request, read ``after_chunks`` chunks, then drop the connection.

    Returns the response status (the stream had begun when it is 200).
    """
    response = await session.post(request.path, json=request.body, headers=request.headers)
    seen = 0
    try:
        async for line in response.content:
            if line.startswith(b"data:"):
                seen += 1
                if seen >= after_chunks:
                    break
    finally:
        # close(), not release(): the connection is torn down mid-body, as a client that
        # gives up does; the gateway sees the peer go away.
        response.close()
    return response.status
