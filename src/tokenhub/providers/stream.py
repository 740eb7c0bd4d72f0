"""An open upstream stream: SSE frames in, canonical events (or relayed bytes) out.

The adapter primes a stream (reads up to its first canonical event) before handing it to
the engine, so every failure before the first byte the client could see is raised by
``open_stream`` and may be retried; after that, a failure raises from ``batches()`` (or
``relay()``). Either way the connection is released when iteration ends.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any, Protocol

import orjson

from tokenhub.errors import ProviderError
from tokenhub.providers.base import RateLimitSnapshot
from tokenhub.providers.classify import malformed, transport_error
from tokenhub.providers.endpoints import Endpoint, EndpointSet
from tokenhub.providers.http import ServerSentEvent, SseReader, parse_event
from tokenhub.providers.passthrough import RELAYS, RelayEdit
from tokenhub.providers.transport import UpstreamResponse
from tokenhub.types import FieldNote, StreamEnd, StreamEvent


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
    """A ``StreamHandle`` over one upstream answer; closes itself when iteration ends.

    Events come in batches: everything one network read completes, decoded together, so
    the handler can write them with one send. With a ``wire`` that has a relay
    (providers/passthrough.py), the bytes read while priming are kept, so the stream can
    instead be relayed as the upstream sent it (``relay``).
    """

    def __init__(
        self,
        response: UpstreamResponse,
        endpoint: Endpoint,
        endpoints: EndpointSet,
        decoder: Decoder,
        frame: Frame,
        *,
        provider: str,
        ratelimit: RateLimitSnapshot | None,
        wire: str | None = None,
    ) -> None:
        self.endpoint = endpoint.url
        self.ratelimit = ratelimit
        self.retries = 0
        self.latency_s = 0.0
        self.wire = wire
        self._relay = RELAYS.get(wire) if wire else None
        self._response = response
        self._reader = SseReader(response, record=self._relay is not None)
        self._slot = endpoint
        self._endpoints = endpoints
        self._decoder = decoder
        self._frame = frame
        self._provider = provider
        self.first: list[StreamEvent] = []
        self.notes: list[FieldNote] = []
        self._leftover: list[bytes] = []
        self._deferred: ProviderError | None = None
        self._ended = False
        self._closed = False
        self._error: ProviderError | None = None

    async def prime(self) -> None:
        """Read until the first canonical event (``first``); close on failure.

        The rest of that read waits undecoded: a relayed stream never needs it decoded.
        """
        try:
            self.first = await self._pull(lazy=True)
        except BaseException:
            await self.aclose()
            raise

    async def batches(self) -> AsyncGenerator[list[StreamEvent], None]:
        """Every canonical event from ``first`` on, a network read's worth at a time.

        Raises a classified ProviderError on failure; the stream is translated, not relayed.
        """
        self._reader.take_recording()
        try:
            batch = self._decode(self._leftover, list(self.first)) if self.first else []
            batch = batch or await self._pull()
            while batch:
                yield batch
                batch = await self._pull()
            await self._drain()
        finally:
            await self.aclose()

    async def events(self) -> AsyncGenerator[StreamEvent, None]:
        """Canonical events one at a time (``batches`` flattened)."""
        batches = self.batches()
        try:
            async for batch in batches:
                for event in batch:
                    yield event
        finally:
            await batches.aclose()

    def can_relay(self, wire: str) -> bool:
        """Whether a client speaking ``wire`` can be sent this stream's own bytes."""
        return self._relay is not None and wire == self.wire and self._reader.recording

    async def relay(self, edit: RelayEdit) -> AsyncGenerator[tuple[bytes, StreamEnd | None], None]:
        """The upstream's bytes from the first, edited for the client; the last come with the end.

        Only after ``prime`` and instead of ``batches`` (``can_relay``). Raises a classified
        ProviderError on failure, after yielding what came before it.
        """
        if self._relay is None or not self._reader.recording:
            raise RuntimeError("this stream cannot be relayed (see can_relay)")
        relay = self._relay(edit, self._frame)
        try:
            chunk = self._reader.take_recording()
            while True:
                data = relay.feed(chunk)
                if relay.error is not None:
                    if data:
                        yield data, None
                    raise self._failed(relay.error)
                if relay.end is not None:
                    self._ended = True
                    yield data, relay.end
                    break
                if data:
                    yield data, None
                chunk = await self._read()
            await self._drain()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Release the connection (reused only after a clean end) and the endpoint slot."""
        if self._closed:
            return
        self._closed = True
        self._response.close()
        counted = self._ended or self._error is not None  # an early close judges nothing
        self._endpoints.release(self._slot, self._error, counted=counted)

    async def _pull(self, *, lazy: bool = False) -> list[StreamEvent]:
        """The next non-empty batch of events; [] once the stream has ended."""
        try:
            if self._deferred is not None:
                raise self._deferred
            while not self._ended:
                batch = await self._next_batch(lazy=lazy)
                if batch:
                    return batch
        except ProviderError as exc:
            self._failed(exc)
            raise
        return []

    async def _next_batch(self, *, lazy: bool) -> list[StreamEvent]:
        try:
            blocks = await self._reader.blocks()
        except (OSError, TimeoutError) as exc:
            raise transport_error(exc, provider=self._provider, phase="mid-stream") from exc
        if not blocks:
            events = self._decoder.finish()
            self._ended = True
            return events
        return self._decode(blocks, [], lazy=lazy)

    def _decode(
        self, blocks: list[bytes], out: list[StreamEvent], *, lazy: bool = False
    ) -> list[StreamEvent]:
        """``out`` and the events of ``blocks``; an error after events waits for the next pull.

        ``lazy`` stops at the first events and leaves the other blocks for ``batches``.
        """
        try:
            for index, block in enumerate(blocks):
                sse = parse_event(block)
                if sse is None:
                    continue
                events = self._frame(sse, self._decoder)
                if events is None:  # the end marker
                    out += self._decoder.finish()
                    self._ended = True
                    break
                out += events
                if events and isinstance(events[-1], StreamEnd):
                    self._ended = True
                    break
                if lazy and out:
                    self._leftover = blocks[index + 1 :]
                    break
        except ProviderError as exc:
            if not out:
                raise
            self._deferred = exc
        return out

    async def _read(self) -> bytes:
        """The next bytes of the body as they arrived; b"" at its end."""
        try:
            return await self._response.readany()
        except (OSError, TimeoutError) as exc:
            raise self._failed(
                transport_error(exc, provider=self._provider, phase="mid-stream")
            ) from exc

    def _failed(self, exc: ProviderError) -> ProviderError:
        exc.provider = self._provider
        self._error = exc
        return exc

    async def _drain(self) -> None:
        """Read the little that follows the end (``[DONE]``, EOF) so the connection is reused."""
        if self._response.at_eof():
            return
        try:
            await self._response.read()
        except (OSError, TimeoutError):
            self._response.close()
