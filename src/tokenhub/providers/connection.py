"""One keep-alive HTTP/1.1 connection: an asyncio protocol that feeds httptools.

Parsing is httptools' (Node's llhttp, the parser uvicorn uses); this only hands the
parser's events to the answer in progress and returns the connection to its client's pool
when an answer completes.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
from typing import TYPE_CHECKING, cast

import httptools

from tokenhub.providers.transport_errors import UpstreamBadHttpError

if TYPE_CHECKING:
    from tokenhub.providers.transport import UpstreamClient
    from tokenhub.providers.upstream_response import UpstreamResponse

Origin = tuple[str, str, int]
"""Scheme, host and port: what a pooled connection can serve."""


@functools.cache
def default_ssl_context() -> ssl.SSLContext:
    """The system's trust store, loaded once per process (loading it takes milliseconds)."""
    return ssl.create_default_context()


class Connection(asyncio.Protocol):
    """One keep-alive connection: feeds the parser, hands events to the current answer."""

    def __init__(self, client: UpstreamClient, origin: Origin) -> None:
        self.origin = origin
        self.response: UpstreamResponse | None = None
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.paused = False
        self.reused = False
        self.in_use = False
        self.streaming = False
        """Whether the slot it holds while in use is one of the streaming share."""
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
