"""An open upstream stream: SSE frames in, canonical events out, the connection released.

The adapter primes a stream (reads up to its first canonical event) before handing it to
the engine, so every failure before the first byte the client could see is raised by
``open_stream`` and may be retried; after that, a failure raises from ``events()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import aiohttp
import orjson

from tokenhub.errors import ProviderError
from tokenhub.providers.base import RateLimitSnapshot
from tokenhub.providers.classify import malformed, transport_error
from tokenhub.providers.endpoints import Endpoint, EndpointSet
from tokenhub.providers.http import ServerSentEvent, SseReader
from tokenhub.types import StreamEnd, StreamEvent


class Decoder(Protocol):
    """A wire stream decoder: upstream JSON frames in, canonical events out."""

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        """Translate one frame."""
        ...

    def finish(self) -> list[StreamEvent]:
        """Flush at the end of the stream; raise if it ended too early."""
        ...


Frame = Callable[[ServerSentEvent, Any], "list[StreamEvent] | None"]
"""Decode one SSE event with the decoder; None marks the end (``[DONE]``); may raise."""


def load_frame(data: bytes, provider: str) -> Any:
    """Parse an SSE ``data`` payload; malformed JSON is a transient provider error."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise malformed(provider, "stream frame") from None


class HttpStream:
    """A ``StreamHandle`` over one aiohttp response; closes itself when iteration ends."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        endpoint: Endpoint,
        endpoints: EndpointSet,
        decoder: Decoder,
        frame: Frame,
        *,
        provider: str,
        ratelimit: RateLimitSnapshot | None,
    ) -> None:
        self.endpoint = endpoint.url
        self.ratelimit = ratelimit
        self.retries = 0
        self._response = response
        self._reader = SseReader(response.content)
        self._slot = endpoint
        self._endpoints = endpoints
        self._decoder = decoder
        self._frame = frame
        self._provider = provider
        self._pending: list[StreamEvent] = []
        self._ended = False
        self._closed = False
        self._error: ProviderError | None = None

    async def prime(self) -> None:
        """Read until the first canonical event (kept for ``events``); close on failure."""
        try:
            self._pending = await self._pull()
        except BaseException:
            await self.aclose()
            raise

    async def events(self) -> AsyncIterator[StreamEvent]:
        """Canonical events until StreamEnd; raises a classified ProviderError on failure."""
        try:
            batch = self._pending or await self._pull()
            self._pending = []
            while batch:
                for event in batch:
                    yield event
                batch = await self._pull()
            await self._drain()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Release the connection (reused only after a clean end) and the endpoint slot."""
        if self._closed:
            return
        self._closed = True
        if self._ended and self._response.content.at_eof():
            self._response.release()
        else:
            self._response.close()
        counted = self._ended or self._error is not None  # an early close judges nothing
        self._endpoints.release(self._slot, self._error, counted=counted)

    async def _pull(self) -> list[StreamEvent]:
        """The next non-empty batch of events; [] once the stream has ended."""
        try:
            while not self._ended:
                batch = await self._next_batch()
                if batch:
                    self._ended = isinstance(batch[-1], StreamEnd)
                    return batch
        except ProviderError as exc:
            exc.provider = self._provider
            self._error = exc
            raise
        return []

    async def _next_batch(self) -> list[StreamEvent]:
        try:
            sse = await self._reader.next()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise transport_error(exc, provider=self._provider, phase="mid-stream") from exc
        events = None if sse is None else self._frame(sse, self._decoder)
        if events is None:
            events = self._decoder.finish()
            self._ended = True
        return events

    async def _drain(self) -> None:
        """Read the little that follows the end (``[DONE]``, EOF) so the connection is reused."""
        if self._response.content.at_eof():
            return
        try:
            await self._response.content.read()
        except (aiohttp.ClientError, TimeoutError):
            self._response.close()
