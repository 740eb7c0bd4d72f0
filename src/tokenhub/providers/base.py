"""The adapter contract: what the routing engine may ask of any provider kind.

An adapter translates a canonical request to its wire format, sends it, classifies any
failure into a ``ProviderError`` with an ``ErrorKind`` and translates the answer back. It
never decides where a request goes next: that is the routing engine's job.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

from tokenhub.clock import Clock
from tokenhub.errors import ProviderError
from tokenhub.providers.transport import UpstreamClient
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, ChatResponse, FieldNote, StreamEvent


@dataclass(slots=True)
class RateLimitSnapshot:
    """The provider's rate-limit headers as last seen (None where not sent)."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None
    retry_after_s: float | None = None
    observed_at: float = 0.0


@dataclass(slots=True)
class CallOptions:
    """Per-call inputs the engine decides: the deadline, the credential, trace headers.

    ``deadline`` is on the adapter's clock's monotonic scale; every timeout and retry
    of the call ends by then.
    """

    deadline: float
    api_key: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    max_retries: int | None = None
    first_byte_s: float | None = None
    """While peers remain, how long a try waits for its answer's first byte (adaptive)."""
    on_retry: Callable[[ProviderError], None] | None = None
    """Told of each failed try the adapter retries (the executor lists every upstream call)."""


@dataclass(slots=True)
class CallResult:
    """A complete (non-streaming) upstream answer and how it was obtained.

    ``ratelimit`` is None for successful answers unless their headers say a limit is
    exhausted (remaining 0): the rest are parsed lazily, when the adapter's ``ratelimit`` is
    read, to keep header parsing off the request path. ``latency_s`` is the successful
    try's own time, without earlier tries or their backoff.
    """

    response: ChatResponse
    endpoint: str
    latency_s: float
    retries: int = 0
    ratelimit: RateLimitSnapshot | None = None


class StreamHandle(Protocol):
    """An open upstream stream. ``batches`` and ``events`` raise ProviderError on failure."""

    endpoint: str
    ratelimit: RateLimitSnapshot | None
    retries: int
    latency_s: float
    """The successful try's time to its first event."""
    first: list[StreamEvent]
    """The events read before the stream was handed out (empty: it ended without any)."""
    notes: list[FieldNote]
    """What of the request the upstream's format could not carry (translated requests)."""

    def batches(self) -> AsyncGenerator[list[StreamEvent], None]:
        """Every event from ``first`` on, as many at a time as have arrived (never none).

        The stream closes when iteration ends.
        """
        ...

    def events(self) -> AsyncIterator[StreamEvent]:
        """The same events one at a time."""
        ...

    async def aclose(self) -> None:
        """Release the connection early (client went away, or failover)."""
        ...


@dataclass(slots=True)
class EndpointState:
    """Health of one base URL of a provider (several for a multi-endpoint vLLM)."""

    url: str
    healthy: bool = True
    in_flight: int = 0
    consecutive_failures: int = 0
    cooldown_until: float = 0.0
    last_error: str | None = None


class ProviderAdapter(Protocol):
    """One provider instance (configuration) of some provider kind (code)."""

    config: ProviderConfig

    async def complete(
        self, request: ChatRequest, model: ModelConfig, options: CallOptions
    ) -> CallResult:
        """Send a non-streaming request; raise ProviderError (classified) on failure."""
        ...

    async def open_stream(
        self, request: ChatRequest, model: ModelConfig, options: CallOptions
    ) -> StreamHandle:
        """Start a streaming request; raises ProviderError before any event on failure."""
        ...

    async def list_models(self, options: CallOptions) -> list[str]:
        """Model ids the provider's ``/v1/models`` lists."""
        ...

    async def probe(self, options: CallOptions) -> list[EndpointState]:
        """Actively check each endpoint (cheap request) and return their states."""
        ...

    def endpoints(self) -> list[EndpointState]:
        """Current per-endpoint health, for the health view and routing."""
        ...

    @property
    def ratelimit(self) -> RateLimitSnapshot | None:
        """The last rate-limit headers seen from this provider."""
        ...


AdapterFactory = Callable[[ProviderConfig, UpstreamClient, Clock], ProviderAdapter]
