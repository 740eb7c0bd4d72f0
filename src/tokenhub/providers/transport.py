"""Tokenhub's HTTP/1.1 client for upstream calls: keep-alive pools over asyncio protocols.

Every request tokenhub serves makes one upstream call, so the client's cost is paid on
every request. aiohttp's client cost about as much CPU per call as tokenhub's whole
request handling besides it (docs/PERFORMANCE.md has the A/B figures); what an upstream
call needs is much less than it offers (no cookies, redirects, multipart or tracing hooks).
So the client only frames a request, parses the answer with **httptools**
(``providers/connection.py``), keeps connections alive per origin and enforces the
attempt's timeouts (``providers/upstream_response.py``); an outbound proxy, when one is
configured, is ``providers/proxy.py``. The daemon's own server stays aiohttp's.

One ``UpstreamClient`` serves one provider (all its endpoints): at most ``limit``
connections in use at once, of which streams may hold at most ``stream_limit`` so that
short calls always find a slot behind long streams. A request beyond waits, within its
connect timeout, then fails with ``PoolExhaustedError`` (tokenhub's limit, not the
upstream's fault). Idle connections are reused newest first and closed after
``keepalive_s``. A request whose reused connection turns out to have been closed by the
upstream before any answer is sent again once on a fresh connection, as browsers do: the
upstream closed an idle connection as the request arrived, so its application never saw it
(only an upstream that crashed after reading the request and before answering would see it
twice).

The public names of the pieces are importable from here too.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from typing import cast

from yarl import URL

from tokenhub.providers.connection import Connection, Origin, default_ssl_context
from tokenhub.providers.framing import frame_request, origin_of
from tokenhub.providers.proxy import Proxy, ProxyRoutes, connect_proxy, open_tunnel
from tokenhub.providers.transport_errors import (
    TRANSPORT_ERRORS,
    AttemptTimeout,
    ClientClosedError,
    HeaderError,
    PoolExhaustedError,
    ProxyRefusedError,
    UpstreamBadHttpError,
    UpstreamBodyCutError,
    UpstreamDisconnectedError,
    UpstreamTimeoutError,
)
from tokenhub.providers.upstream_response import READ_BUFFER, UpstreamResponse

__all__ = [
    "READ_BUFFER",
    "TRANSPORT_ERRORS",
    "AttemptTimeout",
    "ClientClosedError",
    "HeaderError",
    "PoolExhaustedError",
    "ProxyRefusedError",
    "UpstreamBadHttpError",
    "UpstreamBodyCutError",
    "UpstreamClient",
    "UpstreamDisconnectedError",
    "UpstreamResponse",
    "UpstreamTimeoutError",
    "default_ssl_context",
]


class UpstreamClient:
    """Keep-alive HTTP/1.1 connections to one provider's endpoints, with a connection limit."""

    def __init__(
        self,
        *,
        limit: int = 1000,
        stream_limit: int | None = None,
        keepalive_s: float = 30.0,
        user_agent: str = "tokenhub",
        ssl_context: ssl.SSLContext | None = None,
        proxies: ProxyRoutes | None = None,
        on_exhausted: Callable[[], None] | None = None,
    ) -> None:
        self.limit = limit
        self.stream_limit = limit if stream_limit is None else min(stream_limit, limit)
        """Slots streams may hold at once; the rest stay for short calls."""
        self.keepalive_s = keepalive_s
        self.user_agent = user_agent
        self.closed = False
        self._ssl = ssl_context
        self._proxies = proxies
        self._via: dict[Origin, Proxy | None] = {}
        self._on_exhausted = on_exhausted
        self._idle: dict[Origin, list[Connection]] = {}
        self._open: set[Connection] = set()
        self._in_use = 0
        self._streams = 0
        self._slot_waiters: deque[asyncio.Future[None]] = deque()
        self._stream_waiters: deque[asyncio.Future[None]] = deque()
        self._sweep: asyncio.TimerHandle | None = None

    @property
    def in_use(self) -> int:
        """Connections carrying a request (or being opened for one) right now."""
        return self._in_use

    @property
    def streams(self) -> int:
        """Of those, the ones held by streaming requests."""
        return self._streams

    @property
    def waiting(self) -> int:
        """Requests waiting for a free slot."""
        return len(self._slot_waiters) + len(self._stream_waiters)

    @property
    def idle(self) -> int:
        """Open connections waiting for a request."""
        return sum(not c.closed for conns in self._idle.values() for c in conns)

    @property
    def proxies(self) -> ProxyRoutes | None:
        """The outbound proxies this client uses (None: it connects directly)."""
        return self._proxies

    async def request(
        self,
        method: str,
        url: URL,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        timeouts: AttemptTimeout,
        stream: bool = False,
    ) -> UpstreamResponse:
        """Send a request; return once the answer's status and headers have arrived.

        ``stream`` marks a request that may hold its connection long (it counts against
        ``stream_limit``). Raises ``UpstreamTimeoutError``, an ``OSError`` (refused, reset,
        TLS, DNS; the classes above for what tokenhub detects itself), ``HeaderError`` or
        ``PoolExhaustedError``.
        """
        if self.closed:
            raise ClientClosedError
        loop = asyncio.get_running_loop()
        started = loop.time()
        origin = origin_of(url)
        proxy = None if self._proxies is None else self._http_proxy(origin)
        data = frame_request(method, url, headers, body, proxy, self.user_agent)
        connect_by = started + min(timeouts.connect, timeouts.total)
        conn = await self._acquire(origin, loop, connect_by, stream)
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
            origin, loop, loop.time() + min(timeouts.connect, left), stream, fresh=True
        )
        return await self._exchange(
            conn,
            data,
            loop,
            AttemptTimeout(left, timeouts.connect, timeouts.read, timeouts.first_byte),
        )

        # The upstream had closed the reused connection: once more on a new one.
        left = timeouts.total - (loop.time() - started)
        if left <= 0:
            raise UpstreamTimeoutError("timed out: the attempt's time")
        conn = await self._acquire(
            origin, loop, loop.time() + min(timeouts.connect, left), fresh=True
        )
        return await self._exchange(
            conn,
            data,
            loop,
            AttemptTimeout(left, timeouts.connect, timeouts.read, timeouts.first_byte),
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
        for waiters in (self._slot_waiters, self._stream_waiters):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(ClientClosedError())

    # Framing and exchanging.

    async def _exchange(
        self,
        conn: Connection,
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
        stream: bool,
        *,
        fresh: bool = False,
    ) -> Connection:
        """A connection for ``origin``, counted in use: a pooled one or a new one."""
        while self._in_use >= self.limit or (stream and self._streams >= self.stream_limit):
            await self._wait_for_slot(loop, connect_by, stream)
        self._in_use += 1
        if stream:
            self._streams += 1
        try:
            conn = None if fresh else self._take_idle(origin, loop.time())
            if conn is None:
                conn = await self._connect(origin, loop, connect_by)
        except BaseException:
            self._free_slot(stream)
            raise
        conn.in_use = True
        conn.streaming = stream
        return conn

    async def _wait_for_slot(
        self,
        loop: asyncio.AbstractEventLoop,
        connect_by: float,
        stream: bool,
    ) -> None:
        waiters = self._stream_waiters if stream else self._slot_waiters
        waiter: asyncio.Future[None] = loop.create_future()
        waiters.append(waiter)
        try:
            async with asyncio.timeout_at(connect_by):
                await waiter
        except TimeoutError:
            self._pass_on(waiter)
            if self._on_exhausted is not None:
                self._on_exhausted()
            raise PoolExhaustedError(
                self.stream_limit if stream else self.limit, stream=stream
            ) from None
        except asyncio.CancelledError:
            self._pass_on(waiter)
            raise
        finally:
            if waiter in waiters:
                waiters.remove(waiter)

    def _pass_on(self, waiter: asyncio.Future[None]) -> None:
        """A waiter woken just as it gave up: its slot goes to the next one in line."""
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            self._wake()

    def _take_idle(self, origin: Origin, now: float) -> Connection | None:
        conns = self._idle.get(origin)
        while conns:
            conn = conns.pop()
            if not conn.closed and now - conn.idle_since < self.keepalive_s:
                return conn
            conn.abort()
        return None

    async def _connect(
        self, origin: Origin, loop: asyncio.AbstractEventLoop, connect_by: float
    ) -> Connection:
        scheme, host, port = origin
        context = (self._ssl or default_ssl_context()) if scheme == "https" else None
        proxy = None if self._proxies is None else self._proxy_for(origin)
        try:
            async with asyncio.timeout_at(connect_by):
                if proxy is None:
                    _, conn = await loop.create_connection(
                        lambda: Connection(self, origin),
                        host,
                        port,
                        ssl=context,
                        server_hostname=host if context is not None else None,
                    )
                elif context is None:  # plain http: requests go to the proxy itself
                    transport = await connect_proxy(loop, proxy, lambda: Connection(self, origin))
                    conn = cast("Connection", transport.get_protocol())
                else:
                    conn = await open_tunnel(
                        loop, proxy, origin, lambda: Connection(self, origin), context
                    )
        except TimeoutError:
            raise UpstreamTimeoutError("timed out: connecting") from None
        if self.closed:
            conn.abort()
            raise ClientClosedError
        self._open.add(conn)
        return conn

    def _release(self, conn: Connection) -> None:
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

    def _proxy_for(self, origin: Origin) -> Proxy | None:
        """The proxy of ``origin`` (decided once per origin)."""
        try:
            return self._via[origin]
        except KeyError:
            assert self._proxies is not None
            proxy = self._via[origin] = self._proxies.proxy_for(origin)
            return proxy

    def _http_proxy(self, origin: Origin) -> Proxy | None:
        """The proxy a plain-http request is framed for (https ones tunnel instead)."""
        return self._proxy_for(origin) if origin[0] == "http" else None

    def _forget(self, conn: Connection) -> None:
        """A connection closed: it no longer counts, idle or in use."""
        self._open.discard(conn)
        self._free(conn)

    def _free(self, conn: Connection) -> None:
        if conn.in_use:
            conn.in_use = False
            self._free_slot(conn.streaming)

    def _free_slot(self, stream: bool) -> None:
        self._in_use -= 1
        if stream:
            self._streams -= 1
        if self._slot_waiters or self._stream_waiters:
            self._wake()

    def _wake(self) -> None:
        """Hand a free slot to one waiter: a short call first, else a stream if one may."""
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        while self._stream_waiters and self._streams < self.stream_limit:
            waiter = self._stream_waiters.popleft()
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
            kept: list[Connection] = []
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
