"""What a provider kind supplies to the shared HTTP adapter: its paths and its wire hooks.

``HttpAdapter`` (``providers/adapter.py``) does the rest; a kind (``openai``,
``anthropic``, ``vllm``) subclasses it and fills in only what differs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from yarl import URL

from tokenhub.providers.base import RateLimitSnapshot
from tokenhub.providers.endpoints import Endpoint
from tokenhub.providers.http import ServerSentEvent
from tokenhub.providers.stream import Decoder
from tokenhub.schemas import ModelConfig
from tokenhub.types import ChatRequest, ChatResponse, FieldNote, StreamEvent


class KindHooks(ABC):
    """The class attributes and methods a provider kind defines."""

    kind: ClassVar[str]
    chat_path: ClassVar[str]
    models_path: ClassVar[str]
    wire: ClassVar[str | None] = None
    """The client-facing format this kind's streams are in (``openai``, ``anthropic``)."""
    honours_deadline: ClassVar[bool] = True
    """Every call ends by its ``CallOptions.deadline`` (the executor adds no timer of its own)."""
    remaining_headers: ClassVar[tuple[str, ...]] = ()
    """Rate-limit headers whose value 0 means a limit is used up until its reset."""
    busy_is_per_endpoint: ClassVar[bool] = False
    """A 429 or 503 speaks for the one server that sent it (vLLM), not for a model's quota
    at a vendor: it cools that endpoint, and holds the model only when no other endpoint of
    the provider is available."""

    def default_headers(self) -> dict[str, str]:
        """Headers every request of this kind carries (config headers may override them)."""
        return {}

    @abstractmethod
    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The credential as this kind sends it."""

    vendor_headers: ClassVar[frozenset[str]] = frozenset()
    """Client headers an upstream of this format understands, forwarded from a client of the
    same format (never a credential or an account selector)."""

    @abstractmethod
    def render(
        self, request: ChatRequest, model: ModelConfig, notes: list[FieldNote]
    ) -> dict[str, Any]:
        """The wire body for ``request`` (its ``stream`` flag already set), translated.

        Whatever of the request this format cannot carry is added to ``notes``.
        """

    def forward(self, body: dict[str, Any], model: ModelConfig, *, stream: bool) -> dict[str, Any]:
        """A same-format client's body as sent, with only the model and streaming set."""
        out = {**body, "model": model.upstream}
        if stream:
            out["stream"] = True
        else:
            out.pop("stream", None)
        return out

    @abstractmethod
    def parse(self, body: Any) -> ChatResponse:
        """A complete wire response to canonical; ProviderError if malformed."""

    @abstractmethod
    def decoder(self) -> Decoder:
        """A fresh stream decoder."""

    @abstractmethod
    def frame(
        self, sse: ServerSentEvent, decoder: Decoder, secret: str | None
    ) -> list[StreamEvent] | None:
        """Decode one SSE event; None marks the end; raise a classified in-stream error."""

    def snapshot(self, headers: Mapping[str, str]) -> RateLimitSnapshot | None:  # noqa: ARG002 - a kind without rate-limit headers
        """The rate-limit headers of one answer (None where the kind sends none)."""
        return None

    def snapshot_at(
        self,
        headers: Mapping[str, str],
        now: float,  # noqa: ARG002 - a kind without rate-limit headers
        observed_at: float,  # noqa: ARG002 - the base kind reads no rate-limit headers; subclasses use the time
    ) -> RateLimitSnapshot | None:
        """``snapshot`` for headers seen at an earlier moment (parsed lazily)."""
        return self.snapshot(headers)

    def page(self, endpoint: Endpoint, cursor: str | None) -> URL:  # noqa: ARG002 - one page by default
        """The model-list URL for one page (``cursor`` from ``next_cursor``)."""
        return endpoint.models_url

    def next_cursor(self, body: Any) -> str | None:  # noqa: ARG002 - one page by default
        """The cursor of the next model-list page, or None after the last."""
        return None
