"""The ``vllm`` kind: vLLM's OpenAI-compatible server, often several replicas.

The OpenAI wire format at ``{base_url}/chat/completions`` (``base_url`` ends in ``/v1``).
What sets it apart is handled by the shared machinery: vLLM's flat error bodies
(``{"object": "error", "message", "type", "param", "code": <status>}``) and its wordings
("maximum context length", "longer than the maximum model length") are classified by
``classify``; the credential is optional (none configured: no ``Authorization``); a
provider listing several ``base_urls`` is load-spread by least in-flight with per-endpoint
health; ``probe()`` GETs each replica's ``/v1/models``; a translated request carries
``top_k`` and any number of stop sequences, which vLLM accepts and OpenAI does not. An
error inside a stream is transient even when typed ``BadRequestError``: vLLM's stream
generator labels whatever failed that way by default. vLLM sends no rate-limit headers; a
proxy in front of it may send ``Retry-After``, which is read. A 429 or 503 is that one
server's: it cools that endpoint (for Retry-After, else the endpoint cooldown), and the
model waits only when no other endpoint of the provider is available.
"""

from __future__ import annotations

from typing import Any

from tokenhub.clock import Clock
from tokenhub.providers.kinds import ProviderKinds
from tokenhub.providers.openai import OpenAIAdapter
from tokenhub.providers.transport import UpstreamClient
from tokenhub.providers.wire import openai as openai_wire
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, FieldNote


class VLLMAdapter(OpenAIAdapter):
    """A provider of type ``vllm``."""

    kind = "vllm"
    stream_client_errors_fatal = False  # vLLM labels any in-stream failure BadRequestError
    remaining_headers = ()  # vLLM sends no rate-limit headers
    busy_is_per_endpoint = True  # a 429/503 is that server's, not a quota of the model's

    def render(
        self, request: ChatRequest, model: ModelConfig, notes: list[FieldNote]
    ) -> dict[str, Any]:
        """The Chat Completions body with vLLM's extensions (``top_k``)."""
        return openai_wire.render_request(request, model.upstream, notes=notes, vllm=True)


def create(config: ProviderConfig, client: UpstreamClient, clock: Clock) -> VLLMAdapter:
    """The factory registered for ``type: vllm``."""
    return VLLMAdapter(config, client, clock)


def register(kinds: ProviderKinds) -> None:
    """Add the ``vllm`` kind."""
    kinds.add("vllm", create)
