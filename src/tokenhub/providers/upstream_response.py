"""One upstream answer as it arrives: status, headers, then the body, with its timer.

The connection (``providers/connection.py``) feeds it parser events; the adapter reads it.
Timeouts: one timer per answer enforces ``read`` (the first byte and every silence) and
``total``; arriving data only moves a timestamp, and the timer re-arms itself when it fires
early.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Mapping
from typing import TYPE_CHECKING

from tokenhub.providers.transport_errors import (
    AttemptTimeout,
    ClientClosedError,
    UpstreamBadHttpError,
    UpstreamBodyCutError,
    UpstreamDisconnectedError,
    UpstreamTimeoutError,
)

if TYPE_CHECKING:
    from tokenhub.providers.connection import Connection

READ_BUFFER = 256 * 1024
"""Bytes of an answer held unread before the connection stops reading (flow control)."""

_NO_BODY_STATUSES = frozenset({204, 304})


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
        "_first_s",
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
        self, conn: Connection, loop: asyncio.AbstractEventLoop, timeout: AttemptTimeout
    ) -> None:
        now = loop.time()
        self.status = 0
        self.got_bytes = False
        self._conn: Connection | None = conn
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
        first = timeout.first_byte
        self._first_s = timeout.read if first is None else min(first, timeout.read)
        self._last = now
        self._timer: asyncio.TimerHandle | None = loop.call_at(
            min(now + self._first_s, self._deadline), self._on_timer
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

    def any_header_is(self, names: frozenset[bytes], value: bytes) -> bool:
        """Whether a header named in ``names`` (lowercase) has exactly ``value``.

        Reads the raw header lines, without building ``headers``: this runs on every
        successful answer (is a rate limit used up?), and most values are not ``value``.
        """
        for name, found in self._raw_headers:  # noqa: SIM110 - a loop: no generator per answer
            if found == value and name.lower() in names:
                return True
        return False

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
        wait = self._read_s if self.got_bytes else self._first_s
        due = min(now + wait if paused else self._last + wait, self._deadline)
        if due > now:
            self._timer = self._loop.call_at(due, self._on_timer)
            return
        what = (
            "the attempt's time"
            if due >= self._deadline
            else ("a silent upstream" if self.got_bytes else f"no first byte within {wait:.2f} s")
        )
        self._fail(UpstreamTimeoutError(f"timed out: {what}"))

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
