"""The ``openai`` kind: OpenAI Chat Completions, and any vendor that speaks it.

``POST {base_url}/chat/completions`` and ``GET {base_url}/models`` with ``Authorization:
Bearer``; ``base_url`` includes the version segment (``https://api.openai.com/v1``).
Groq, Together, Ollama, OpenRouter or an Azure-style deployment are configuration: a
``base_url`` (which may carry a query such as ``?api-version=``) and ``headers`` (a value
``"{api_key}"`` puts the credential in that header instead of ``Authorization``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tokenhub.clock import Clock
from tokenhub.providers.adapter import HttpAdapter
from tokenhub.providers.base import RateLimitSnapshot
from tokenhub.providers.classify import stream_error
from tokenhub.providers.http import ServerSentEvent
from tokenhub.providers.kinds import ProviderKinds
from tokenhub.providers.ratelimit_headers import openai_snapshot
from tokenhub.providers.stream import Decoder, load_frame
from tokenhub.providers.transport import UpstreamClient
from tokenhub.providers.wire import openai as openai_wire
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, ChatResponse, FieldNote, StreamEvent

_DONE = b"[DONE]"


class OpenAIAdapter(HttpAdapter):
    """A provider of type ``openai``."""

    kind = "openai"
    chat_path = "/chat/completions"
    models_path = "/models"
    wire = "openai"
    remaining_headers: ClassVar[tuple[str, ...]] = (
        "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens",
    )
    vendor_headers: ClassVar[frozenset[str]] = frozenset({"openai-beta"})
    stream_client_errors_fatal: ClassVar[bool] = True
    """Whether a 4xx-typed error inside a stream is the client's fault (see ``vllm``)."""

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """``Authorization: Bearer <key>``."""
        return {"authorization": f"Bearer {api_key}"}

    def render(
        self, request: ChatRequest, model: ModelConfig, notes: list[FieldNote]
    ) -> dict[str, Any]:
        """The Chat Completions body (streams ask for usage)."""
        return openai_wire.render_request(request, model.upstream, notes=notes)

    def forward(self, body: dict[str, Any], model: ModelConfig, *, stream: bool) -> dict[str, Any]:
        """The client's body; a stream always asks for usage (the relay hides it if unasked)."""
        out = super().forward(body, model, stream=stream)
        if stream:
            options = out.get("stream_options")
            out["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }
        else:
            out.pop("stream_options", None)
        return out

    def parse(self, body: Any) -> ChatResponse:
        """A ``chat.completion`` to canonical."""
        return openai_wire.parse_response(body)

    def decoder(self) -> Decoder:
        """A ``chat.completion.chunk`` decoder."""
        return openai_wire.StreamDecoder()

    def frame(
        self, sse: ServerSentEvent, decoder: Decoder, secret: str | None
    ) -> list[StreamEvent] | None:
        """One ``data:`` chunk; ``[DONE]`` ends; ``{"error": ...}`` is an in-stream failure."""
        if sse.data == _DONE:
            return None
        chunk = load_frame(sse.data, self.config.id)
        if isinstance(chunk, dict) and chunk.get("error"):
            raise stream_error(
                chunk["error"],
                secret=secret,
                provider=self.config.id,
                client_errors_fatal=self.stream_client_errors_fatal,
            )
        return decoder.feed(chunk)

    def snapshot(self, headers: Mapping[str, str]) -> RateLimitSnapshot | None:
        """OpenAI's ``x-ratelimit-*`` and Retry-After headers."""
        return self.snapshot_at(headers, self._clock.time(), self._clock.monotonic())

    def snapshot_at(
        self, headers: Mapping[str, str], now: float, observed_at: float
    ) -> RateLimitSnapshot | None:
        """The same, for headers seen at ``now`` (wall) / ``observed_at`` (monotonic)."""
        return openai_snapshot(headers, now, observed_at)


def create(config: ProviderConfig, client: UpstreamClient, clock: Clock) -> OpenAIAdapter:
    """The factory registered for ``type: openai``."""
    return OpenAIAdapter(config, client, clock)


def register(kinds: ProviderKinds) -> None:
    """Add the ``openai`` kind."""
    kinds.add("openai", create)
