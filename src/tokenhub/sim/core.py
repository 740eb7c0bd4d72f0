"""Shapes shared by the behaviour engine and the wire renderers.

The wire modules parse a provider's request into a ``SimRequest``, the behaviour engine
turns it into a ``Plan`` (reply, fault or hang), and the wire modules render that plan
back into the provider's exact JSON and SSE bytes. Nothing here does I/O.
"""

from __future__ import annotations

import math
import random
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tokenhub.sim.scenario import FinishReason, ModelSpec, ProviderSpec

CHARS_PER_TOKEN = 4
"""The token heuristic: one token per 4 characters of text, rounded up."""

MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens added per message for role and framing, as real chat templates do."""

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def count_tokens(text: str) -> int:
    """Tokens in ``text`` by the simulator's heuristic (ceil of characters / 4)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def split_tokens(text: str) -> list[str]:
    """Split text into the 4-character pieces the simulator counts as tokens."""
    return [text[i : i + CHARS_PER_TOKEN] for i in range(0, len(text), CHARS_PER_TOKEN)]


class RequestInvalid(Exception):  # noqa: N818 - a wire-level outcome, rendered as a 400
    """The request breaks the provider's validation rules; rendered as its 400 body."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(slots=True, frozen=True)
class SimRequest:
    """What the behaviour engine needs to know about a chat request.

    ``thinking_budget`` is set when an Anthropic request enables thinking (with
    ``thinking_omitted`` when it asks for ``display: "omitted"``); ``logprobs``
    is the ``top_logprobs`` count when an OpenAI request asks for logprobs (else None);
    ``service_tier`` is the tier an OpenAI request names.
    """

    model: str
    prompt_text: str
    prompt_tokens: int
    max_tokens: int | None
    stream: bool = False
    include_usage: bool = False
    thinking_budget: int | None = None
    thinking_omitted: bool = False
    logprobs: int | None = None
    service_tier: str | None = None


@dataclass(slots=True, frozen=True)
class ToolCallOut:
    """A tool call in a reply; ``arguments`` is the JSON text of the arguments."""

    name: str
    arguments: str
    input: Mapping[str, Any]


@dataclass(slots=True, frozen=True)
class Reply:
    """A successful answer: text pieces (one token each), tool calls and reasoning.

    ``reasoning`` holds the thinking pieces (one token each) that come before the text;
    ``output_tokens`` counts them too, as the real APIs do.
    """

    pieces: tuple[str, ...]
    tool_calls: tuple[ToolCallOut, ...]
    finish_reason: FinishReason
    output_tokens: int
    reasoning: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The whole reply text."""
        return "".join(self.pieces)


@dataclass(slots=True, frozen=True)
class Fault:
    """An error answer. ``error_type`` None means the provider's default for ``status``.

    The special types ``context_length_exceeded`` and ``max_tokens_too_large`` render as
    that provider's own wording with the request's token numbers.
    """

    status: int
    error_type: str | None = None
    message: str | None = None
    retry_after: float | None = None


@dataclass(slots=True, frozen=True)
class RateSnapshot:
    """The rate-limit state to advertise in headers after this request."""

    requests_limit: int
    requests_remaining: int
    tokens_limit: int
    tokens_remaining: int
    reset_s: float


@dataclass(slots=True, frozen=True)
class StreamCut:
    """End a stream early, after ``after_events`` content events.

    With ``error`` the provider's in-stream error follows (``error_type`` and ``message``
    None mean its usual ones); without, the connection is dropped with no terminator.
    """

    after_events: int
    error: bool
    error_type: str | None = None
    message: str | None = None


@dataclass(slots=True)
class Plan:
    """What to answer one request with, decided before any bytes are written."""

    request: SimRequest
    model: ModelSpec
    limits: RateSnapshot
    reply: Reply | None = None
    fault: Fault | None = None
    hang: bool = False
    delay_ms: float = 0.0
    cut: StreamCut | None = None


@dataclass(slots=True, frozen=True)
class Rendered:
    """A complete HTTP answer: status, headers and body bytes."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True, frozen=True)
class SseEvent:
    """One server-sent event; ``paced`` events carry tokens and are spaced by the rate."""

    data: bytes
    paced: bool = False


@dataclass(slots=True)
class StreamAnswer:
    """A streamed answer: headers, then the events in order; ``drop`` cuts the connection."""

    headers: dict[str, str]
    events: list[SseEvent] = field(default_factory=list)
    drop: bool = False


def cut_stream(answer: StreamAnswer, cut: StreamCut, error_events: list[SseEvent]) -> StreamAnswer:
    """Keep ``answer`` up to its ``cut.after_events``-th content event, then end it early.

    Everything before the first content event (OpenAI's role chunk, Anthropic's
    ``message_start``) is always kept; an ``after_events`` beyond the content stops right
    after the last content event, before the finish.
    """
    paced = [i for i, event in enumerate(answer.events) if event.paced]
    if cut.after_events < len(paced):
        end = paced[cut.after_events]
    else:
        end = paced[-1] + 1 if paced else min(1, len(answer.events))
    kept = answer.events[:end]
    if cut.error:
        return StreamAnswer(answer.headers, kept + error_events)
    return StreamAnswer(answer.headers, kept, drop=True)


class IdSource:
    """Seeded random ids, so two runs of one scenario produce the same ids."""

    def __init__(self, seed: int, scope: str) -> None:
        self._rng = random.Random(f"{seed}/{scope}/ids")  # noqa: S311 - ids, not secrets

    def token(self, length: int, alphabet: str = ALNUM) -> str:
        """``length`` random characters from ``alphabet``."""
        return "".join(self._rng.choices(alphabet, k=length))


class Wire(Protocol):
    """A provider's wire format: parse requests, render answers and errors."""

    def check_headers(self, headers: Mapping[str, str]) -> Rendered | None:
        """Reject missing or wrong credentials and required headers, else None."""

    def parse(self, body: Any, headers: Mapping[str, str]) -> SimRequest:
        """Validate the JSON body as strictly as the real API; raise RequestInvalid.

        ``headers`` are the request's (beta flags can change what is valid).
        """

    def invalid(self, error: RequestInvalid) -> Rendered:
        """Render a validation failure."""

    def unknown_model(self, model: str) -> Rendered:
        """Render the provider's answer for a model it does not serve."""

    def fault(self, plan: Plan) -> Rendered:
        """Render an error answer."""

    def reply(self, plan: Plan) -> Rendered:
        """Render a complete (non-streamed) answer."""

    def stream(self, plan: Plan) -> StreamAnswer:
        """Render a streamed answer as SSE events."""

    def stream_error(self, cut: StreamCut) -> list[SseEvent]:
        """The events the provider sends when a stream fails after it started."""

    def models(self, provider: ProviderSpec) -> Rendered:
        """Render the provider's model list."""
