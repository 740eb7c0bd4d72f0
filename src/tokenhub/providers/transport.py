"""Tokenhub's HTTP/1.1 client for upstream calls: keep-alive pools over asyncio protocols.

Every request tokenhub serves makes one upstream call, so the client's cost is paid on
every request. aiohttp's client cost about as much CPU per call as tokenhub's whole
request handling besides it (docs/PERFORMANCE.md has the A/B figures); what an upstream
call needs is much less than it offers (no cookies, redirects, proxies, multipart or
tracing hooks). So this module does only that: it frames a request, parses the answer with
**httptools** (Node's llhttp parser, the one uvicorn uses — parsing is not written here),
keeps connections alive per origin and enforces the attempt's timeouts. The daemon's own
server stays aiohttp's.

One ``UpstreamClient`` serves one provider (all its endpoints): at most ``limit``
connections in use at once (a request beyond waits, within its connect timeout), idle
ones reused newest first and closed after ``keepalive_s``. A request whose reused
connection turns out to have been closed by the upstream before any answer is sent again
once on a fresh connection, as browsers do: the upstream closed an idle connection as the
request arrived, so its application never saw it (only an upstream that crashed after
reading the request and before answering would see it twice).

Timeouts (``AttemptTimeout``): ``connect`` bounds waiting for a connection and opening it,
``read`` the wait for the first byte and every silence after it, ``total`` everything up to
the last byte. One timer per request enforces the last two; arriving data only moves a
timestamp, and the timer re-arms itself when it fires early.
"""

from __future__ import annotations

import asyncio
import functools
import math
import ssl
import zlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import httptools
from yarl import URL

READ_BUFFER = 256 * 1024
"""Bytes of an answer held unread before the connection stops reading (flow control)."""

_NO_BODY_STATUSES = frozenset({204, 304})
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]
"""Scheme, host and port: what a pooled connection can serve."""


class UpstreamDisconnectedError(ConnectionError):
    """The upstream closed the connection before its answer began."""

    def __init__(self, *, stale: bool = False) -> None:
        super().__init__("the upstream closed the connection")
        self.stale = stale
        """Whether a reused connection closed before a byte came back (safe to resend)."""


class UpstreamBodyCutError(ConnectionError):
    """The connection closed in the middle of the answer."""

    def __init__(self) -> None:
        super().__init__("the upstream cut the body short")


class UpstreamBadHttpError(ConnectionError):
    """The upstream's bytes are not HTTP/1.1 tokenhub can read."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"the upstream sent malformed HTTP ({detail})")


class ClientClosedError(ConnectionError):
    """The client was closed while the request waited or ran."""

    def __init__(self) -> None:
        super().__init__("the provider's connections were closed")


class UpstreamTimeoutError(TimeoutError):
    """A connect, first-byte, silence or total timeout ran out."""


TRANSPORT_ERRORS = (
    UpstreamDisconnectedError,
    UpstreamBodyCutError,
    UpstreamBadHttpError,
    ClientClosedError,
)
"""The failures this module detects itself; their message says what happened."""


class HeaderError(ValueError):
    """A header name or value would break the request (a line break in a credential, say)."""


@dataclass(frozen=True, slots=True)
class AttemptTimeout:
    """The timeouts of one attempt, in seconds."""

    total: float
    """Everything, from asking for a connection to the answer's last byte."""
    connect: float
    """Waiting for a free connection slot and opening a connection."""
    read: float
    """The wait for the first byte of the answer, and every silence after it."""


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The system's trust store, loaded once per process (loading it takes milliseconds)."""
    return ssl.create_default_context()


class UpstreamResponse:
    """One answer: status and headers once ``request`` returns, then the body as it comes.

    Read it with ``read()`` (all of it) or ``readany()`` (whatever has arrived); ``close()``
    when done. Its connection goes back to the pool as soon as the last byte arrives, so an
    answer read to its end needs no closing for the connection's sake — only its timer's.
    """

    __slots__ = (
        "_buffered",
        "_chunks",
        "_conn",
        "_deadline",
        "_decompress",
        "_eof",
        "_error",
        "_headers",
        "_last",
        "_loop",
        "_raw_headers",
        "_read_s",
        "_timer",
        "_until_eof",
        "_waiter",
        "_whole",
        "got_bytes",
        "status",
    )

    def __init__(
        self, conn: _Connection, loop: asyncio.AbstractEventLoop, timeout: AttemptTimeout
    ) -> None:
        now = loop.time()
        self.status = 0
        self.got_bytes = False
        self._conn: _Connection | None = conn
        self._loop = loop
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._headers: dict[str, str] | None = None
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._eof = False
        self._until_eof = False
        self._whole = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._decompress: zlib._Decompress | None = None
        self._deadline = now + timeout.total
        self._read_s = timeout.read
        self._last = now
        self._timer: asyncio.TimerHandle | None = loop.call_at(
            min(now + timeout.read, self._deadline), self._on_timer
        )

    @property
    def headers(self) -> Mapping[str, str]:
        """The answer's headers, names lowercased (a repeated header: its last value)."""
        if self._headers is None:
            self._headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in self._raw_headers
            }
        return self._headers

    async def read(self) -> bytes:
        """The whole body (what is left of it); raises if it did not arrive whole."""
        self._whole = True
        if self._conn is not None:
            self._conn.resume()
        while not self._eof:
            await self._wait()
        if self._error is not None:
            raise self._error
        return self._take()

    async def readany(self) -> bytes:
        """Whatever part of the body has arrived, waiting for some if none has; b"" at the end."""
        while not self._chunks and not self._eof:
            await self._wait()
        return self._take()

    def at_eof(self) -> bool:
        """Whether the whole body has arrived and been read."""
        return self._eof and not self._chunks

    def close(self) -> None:
        """Stop: an answer not yet complete closes its connection (it cannot be reused)."""
        self._stop_timer()
        conn, self._conn = self._conn, None
        if conn is not None and conn.response is self:
            conn.abort()
        if not self._eof:
            self._eof = True
            self._error = self._error or ClientClosedError()
            self._wake()

    # Fed by the connection.

    def _begin(self, status: int, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self._raw_headers = raw_headers
        encoding = length = chunked = None
        for name, value in raw_headers:
            lowered = name.lower()
            if lowered == b"content-encoding":
                encoding = value.strip().lower()
            elif lowered == b"content-length":
                length = value
            elif lowered == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if encoding == b"gzip":
            self._decompress = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == b"deflate":
            self._decompress = zlib.decompressobj()
        self._until_eof = length is None and not chunked and status not in _NO_BODY_STATUSES
        self._wake()

    def _feed(self, data: bytes) -> None:
        if self._decompress is not None:
            try:
                data = self._decompress.decompress(data)
            except zlib.error:
                self._fail(UpstreamBadHttpError("a compressed body that does not decompress"))
                return
        if data:
            self._chunks.append(data)
            self._buffered += len(data)
            if self._buffered > READ_BUFFER and self._conn is not None and not self._whole:
                self._conn.pause()
            self._wake()

    def _complete(self) -> None:
        if self._decompress is not None:
            rest = self._decompress.flush()
            if rest:
                self._chunks.append(rest)
        self._eof = True
        self._conn = None
        self._stop_timer()
        self._wake()

    def _lost(self, exc: BaseException | None, *, reused: bool) -> None:
        """The connection closed before the answer was complete."""
        self._conn = None
        if self.status and self._until_eof and exc is None:
            self._complete()  # a body delimited by the end of the connection
        elif self.status:
            self._fail(UpstreamBodyCutError())
        else:
            self._fail(UpstreamDisconnectedError(stale=reused and not self.got_bytes))

    def _fail(self, exc: BaseException) -> None:
        if self._eof:
            return
        self._error = exc
        self._eof = True
        self._stop_timer()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()
        self._wake()

    # Waiting and the timer.

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        self._waiter = self._loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self._error is not None and not self._chunks:
            raise self._error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _take(self) -> bytes:
        if not self._chunks:
            if self._error is not None and not isinstance(self._error, ClientClosedError):
                raise self._error
            return b""
        data = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        self._buffered = 0
        if self._conn is not None:
            self._conn.resume()
        return data

    def _on_timer(self) -> None:
        self._timer = None
        if self._eof:
            return
        now = self._loop.time()
        paused = self._conn is not None and self._conn.paused
        due = min(now + self._read_s if paused else self._last + self._read_s, self._deadline)
        if due > now:
            self._timer = self._loop.call_at(due, self._on_timer)
            return
        what = "the attempt's time" if due >= self._deadline else "a silent upstream"
        self._fail(UpstreamTimeoutError(f"timed out: {what}"))

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class _Connection(asyncio.Protocol):
    """One keep-alive connection: feeds the parser, hands events to the current answer."""

    def __init__(self, client: UpstreamClient, origin: Origin) -> None:
        self.origin = origin
        self.response: UpstreamResponse | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.paused = False
        self.reused = False
        self.in_use = False
        self.idle_since = 0.0
        self._client = client
        self._parser = httptools.HttpResponseParser(self)
        self._raw_headers: list[tuple[bytes, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is no subclass

    def send(self, data: bytes, response: UpstreamResponse) -> None:
        """Write one request; ``response`` receives its answer."""
        self.response = response
        self._raw_headers = []
        assert self.transport is not None
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        """Parse; the callbacks below pass what it finds to the answer."""
        response = self.response
        if response is None:  # bytes nobody asked for: the connection cannot be trusted
            self.abort()
            return
        response.got_bytes = True
        response._last = response._loop.time()  # noqa: SLF001 - the answer's silence clock
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            response._fail(UpstreamBadHttpError(str(exc) or type(exc).__name__))  # noqa: SLF001 - the connection drives its response's state machine

    def on_header(self, name: bytes, value: bytes) -> None:
        """httptools: one header line."""
        self._raw_headers.append((name, value))

    def on_headers_complete(self) -> None:
        """httptools: status and headers are known."""
        if self.response is not None:
            self.response._begin(self._parser.get_status_code(), self._raw_headers)  # noqa: SLF001 - the connection drives its response's state machine

    def on_body(self, body: bytes) -> None:
        """httptools: a piece of the body (chunked framing already removed)."""
        if self.response is not None:
            self.response._feed(body)  # noqa: SLF001 - the connection drives its response's state machine

    def on_message_complete(self) -> None:
        """httptools: the answer is complete; the connection is free again."""
        response, self.response = self.response, None
        keep = self._parser.should_keep_alive()
        if response is not None:
            response._complete()  # noqa: SLF001 - the connection drives its response's state machine
        if keep and not self.closed:
            self.reused = True
            self._client._release(self)  # noqa: SLF001 - the connection hands itself back to its own client's pool
        else:
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection closed: an answer still expected fails (or ends, if EOF-framed)."""
        self.closed = True
        response, self.response = self.response, None
        self._client._forget(self)  # noqa: SLF001 - the connection leaves its own client's pool
        if response is not None:
            response._lost(exc, reused=self.reused)  # noqa: SLF001 - the connection drives its response's state machine

    def pause(self) -> None:
        """Stop reading until the answer's buffer is read."""
        if not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        """Read again."""
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def abort(self) -> None:
        """Close now; it is never reused."""
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
            self._client._forget(self)  # noqa: SLF001 - the connection leaves its own client's pool


class UpstreamClient:
    """Keep-alive HTTP/1.1 connections to one provider's endpoints, with a connection limit."""

    def __init__(
        self,
        *,
        limit: int = 100,
        keepalive_s: float = 30.0,
        user_agent: str = "tokenhub",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.limit = limit
        self.keepalive_s = keepalive_s
        self.user_agent = user_agent
        self.closed = False
        self._ssl = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._in_use = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def in_use(self) -> int:
        """Connections carrying a request (or being opened for one) right now."""
        return self._in_use

    @property
    def idle(self) -> int:
        """Open connections waiting for a request."""
        return sum(not c.closed for conns in self._idle.values() for c in conns)

    async def request(
        self,
        method: str,
        url: URL,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        timeouts: AttemptTimeout,
    ) -> UpstreamResponse:
        """Send a request; return once the answer's status and headers have arrived.

        Raises ``UpstreamTimeoutError``, an ``OSError`` (refused, reset, TLS, DNS; the classes
        above for what tokenhub detects itself) or ``HeaderError``.
        """
        if self.closed:
            raise ClientClosedError
        loop = asyncio.get_running_loop()
        started = loop.time()
        data = self._frame(method, url, headers, body)
        origin = _origin(url)
        connect_by = started + min(timeouts.connect, timeouts.total)
        conn = await self._acquire(origin, loop, connect_by)
        try:
            return await self._exchange(conn, data, loop, timeouts)
        except UpstreamDisconnectedError as exc:
            if not exc.stale:
                raise
        # The upstream had closed the reused connection: once more on a new one.
        left = timeouts.total - (loop.time() - started)
        if left <= 0:
            raise UpstreamTimeoutError("timed out: the attempt's time")
        conn = await self._acquire(
            origin, loop, loop.time() + min(timeouts.connect, left), fresh=True
        )
        return await self._exchange(
            conn, data, loop, AttemptTimeout(left, timeouts.connect, timeouts.read)
        )

    async def close(self) -> None:
        """Close every connection; requests in progress fail with ``ClientClosedError``."""
        self.closed = True
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        for conn in list(self._open):
            response = conn.response
            conn.abort()
            if response is not None:
                response._fail(ClientClosedError())  # noqa: SLF001 - the client fails the responses of the connections it closes
        self._idle.clear()
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ClientClosedError())

    # Framing and exchanging.

    def _frame(
        self, method: str, url: URL, headers: Mapping[str, str], body: bytes | None
    ) -> bytes:
        lines = [f"{method} {url.raw_path_qs} HTTP/1.1\r\nhost: {url.host_port_subcomponent}\r\n"]
        count = 2
        if "user-agent" not in headers:
            lines.append(f"user-agent: {self.user_agent}\r\n")
            count += 1
        if body is not None:
            lines.append(f"content-length: {len(body)}\r\n")
            count += 1
        for name, value in headers.items():
            lines.append(f"{name}: {value}\r\n")
        count += len(headers) + 1
        lines.append("\r\n")
        text = "".join(lines)
        if text.count("\n") != count or text.count("\r") != count:
            raise HeaderError(_line_break_in(headers))
        head = text.encode("utf-8")
        return head + body if body else head

    async def _exchange(
        self,
        conn: _Connection,
        data: bytes,
        loop: asyncio.AbstractEventLoop,
        timeouts: AttemptTimeout,
    ) -> UpstreamResponse:
        response = UpstreamResponse(conn, loop, timeouts)
        conn.send(data, response)
        try:
            while not response.status:
                await response._wait()  # noqa: SLF001 - the client waits on its response's head, a private event
        except BaseException:
            response.close()
            raise
        return response

    # The pool.

    async def _acquire(
        self,
        origin: Origin,
        loop: asyncio.AbstractEventLoop,
        connect_by: float,
        *,
        fresh: bool = False,
    ) -> _Connection:
        """A connection for ``origin``, counted in use: a pooled one or a new one."""
        while self._in_use >= self.limit:
            await self._wait_for_slot(loop, connect_by)
        self._in_use += 1
        try:
            conn = None if fresh else self._take_idle(origin, loop.time())
            if conn is None:
                conn = await self._connect(origin, loop, connect_by)
        except BaseException:
            self._free_slot()
            raise
        conn.in_use = True
        return conn

    async def _wait_for_slot(self, loop: asyncio.AbstractEventLoop, connect_by: float) -> None:
        waiter: asyncio.Future[None] = loop.create_future()
        self._slot_waiters.append(waiter)
        try:
            async with asyncio.timeout_at(connect_by):
                await waiter
        except TimeoutError:
            raise UpstreamTimeoutError("timed out: no free connection") from None
        finally:
            if waiter in self._slot_waiters:
                self._slot_waiters.remove(waiter)

    def _take_idle(self, origin: Origin, now: float) -> _Connection | None:
        conns = self._idle.get(origin)
        while conns:
            conn = conns.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive_s:
                return conn
            conn.abort()
        return None

    async def _connect(
        self, origin: Origin, loop: asyncio.AbstractEventLoop, connect_by: float
    ) -> _Connection:
        scheme, host, port = origin
        context = (self._ssl or default_ssl_context()) if scheme == "https" else None
        try:
            async with asyncio.timeout_at(connect_by):
                _, conn = await loop.create_connection(
                    lambda: _Connection(self, origin),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context is not None else None,
                )
        except TimeoutError:
            raise UpstreamTimeoutError("timed out: connecting") from None
        if self.closed:
            conn.abort()
            raise ClientClosedError
        self._open.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        """An answer completed: the connection is idle (or closed, if the client is)."""
        if self.closed:
            conn.abort()
            return
        loop = asyncio.get_running_loop()
        conn.idle_since = loop.time()
        self._idle.setdefault(conn.origin, []).append(conn)
        self._free(conn)
        if self._sweep is None:
            self._sweep = loop.call_at(conn.idle_since + self.keepalive_s, self._expire)

    def _forget(self, conn: _Connection) -> None:
        """A connection closed: it no longer counts, idle or in use."""
        self._open.discard(conn)
        self._free(conn)

    def _free(self, conn: _Connection) -> None:
        if conn.in_use:
            conn.in_use = False
            self._free_slot()

    def _free_slot(self) -> None:
        self._in_use -= 1
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _expire(self) -> None:
        """Close connections idle for ``keepalive_s``; come back for the next to expire."""
        self._sweep = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        oldest = math.inf
        for origin, conns in list(self._idle.items()):
            kept: list[_Connection] = []
            for conn in conns:
                if not conn.closed and now - conn.idle_since < self.keepalive_s:
                    kept.append(conn)
                else:
                    conn.abort()
            if kept:  # in release order, so the first is the oldest
                self._idle[origin] = kept
                oldest = min(oldest, kept[0].idle_since)
            else:
                del self._idle[origin]
        if oldest < math.inf and not self.closed:
            self._sweep = loop.call_at(oldest + self.keepalive_s, self._expire)


def _origin(url: URL) -> Origin:
    scheme = url.scheme
    host = url.raw_host
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"not an http(s) URL with a host: {url}")
    return scheme, host, url.port or _DEFAULT_PORTS[scheme]


def _line_break_in(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n"):
            return f"the header '{name}' holds a line break (a credential read with its newline?)"
    return "the request target holds a line break"
