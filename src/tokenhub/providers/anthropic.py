"""The ``anthropic`` kind: the Anthropic Messages API.

``POST {base_url}/v1/messages`` and ``GET {base_url}/v1/models`` (paginated) with
``x-api-key`` and ``anthropic-version: 2023-06-01``; ``base_url`` has no version segment
(``https://api.anthropic.com``). A request without ``max_tokens`` is sent with the model's
``max_output_tokens``, since the API requires one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from yarl import URL

from tokenhub.clock import Clock
from tokenhub.providers.adapter import HttpAdapter
from tokenhub.providers.base import RateLimitSnapshot
from tokenhub.providers.classify import stream_error
from tokenhub.providers.endpoints import Endpoint
from tokenhub.providers.http import ServerSentEvent
from tokenhub.providers.kinds import ProviderKinds
from tokenhub.providers.ratelimit_headers import anthropic_snapshot
from tokenhub.providers.stream import Decoder, load_frame
from tokenhub.providers.transport import UpstreamClient
from tokenhub.providers.wire import anthropic as anthropic_wire
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, ChatResponse, FieldNote, StreamEvent

API_VERSION = "2023-06-01"
MODELS_PAGE_SIZE = 1000
"""The largest page ``GET /v1/models`` serves."""


class AnthropicAdapter(HttpAdapter):
    """A provider of type ``anthropic``."""

    kind = "anthropic"
    chat_path = "/v1/messages"
    models_path = "/v1/models"
    wire = "anthropic"
    remaining_headers = (
        "anthropic-ratelimit-requests-remaining",
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-input-tokens-remaining",
        "anthropic-ratelimit-output-tokens-remaining",
    )

    vendor_headers: ClassVar[frozenset[str]] = frozenset({"anthropic-version", "anthropic-beta"})

    def default_headers(self) -> dict[str, str]:
        """The API version every request must name."""
        return {"anthropic-version": API_VERSION}

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """``x-api-key: <key>``."""
        return {"x-api-key": api_key}

    def render(
        self, request: ChatRequest, model: ModelConfig, notes: list[FieldNote]
    ) -> dict[str, Any]:
        """The Messages body; ``max_tokens`` defaults to the model's output limit."""
        return anthropic_wire.render_request(
            request, model.upstream, default_max_tokens=model.max_output_tokens, notes=notes
        )

    def parse(self, body: Any) -> ChatResponse:
        """A ``message`` to canonical."""
        return anthropic_wire.parse_response(body)

    def decoder(self) -> Decoder:
        """A Messages stream decoder."""
        return anthropic_wire.StreamDecoder()

    def frame(
        self, sse: ServerSentEvent, decoder: Decoder, secret: str | None
    ) -> list[StreamEvent] | None:
        """One named event; ``event: error`` is an in-stream failure (e.g. overloaded)."""
        event = load_frame(sse.data, self.config.id)
        if sse.event == "error" or (isinstance(event, dict) and event.get("type") == "error"):
            payload = event.get("error") if isinstance(event, dict) else None
            raise stream_error(payload, secret=secret, provider=self.config.id)
        return decoder.feed(event)

    def snapshot(self, headers: Mapping[str, str]) -> RateLimitSnapshot | None:
        """The ``anthropic-ratelimit-*`` and Retry-After headers."""
        return self.snapshot_at(headers, self._clock.time(), self._clock.monotonic())

    def snapshot_at(
        self, headers: Mapping[str, str], now: float, observed_at: float
    ) -> RateLimitSnapshot | None:
        """The same, for headers seen at ``now`` (wall) / ``observed_at`` (monotonic)."""
        return anthropic_snapshot(headers, now, observed_at)

    def page(self, endpoint: Endpoint, cursor: str | None) -> URL:
        """The model list, as large a page as allowed, after ``cursor``."""
        query: dict[str, str | int] = {"limit": MODELS_PAGE_SIZE}
        if cursor is not None:
            query["after_id"] = cursor
        return endpoint.models_url.update_query(query)

    def next_cursor(self, body: Any) -> str | None:
        """``last_id`` while ``has_more``."""
        if isinstance(body, dict) and body.get("has_more") and body.get("last_id"):
            return str(body["last_id"])
        return None


def create(config: ProviderConfig, client: UpstreamClient, clock: Clock) -> AnthropicAdapter:
    """The factory registered for ``type: anthropic``."""
    return AnthropicAdapter(config, client, clock)


def register(kinds: ProviderKinds) -> None:
    """Add the ``anthropic`` kind."""
    kinds.add("anthropic", create)
