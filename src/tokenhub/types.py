"""The canonical request, response and stream-event models that cross layers.

Wire formats (OpenAI Chat Completions, Anthropic Messages) are translated to and from
these by ``tokenhub.providers.wire``; routing, orchestration and logging only ever see
the canonical form. They are plain slotted dataclasses: validation happens once, where
wire JSON is parsed, and the hot path pays no per-field validation cost again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
ToolChoiceMode = Literal["auto", "none", "required", "tool"]
ResponseFormatType = Literal["text", "json_object", "json_schema"]


@dataclass(slots=True)
class TextPart:
    """A run of text inside a message.

    ``cache_control`` is a prompt-cache breakpoint after this text (Anthropic's
    ``{"type": "ephemeral", "ttl"?}``), kept for Anthropic upstreams; OpenAI caches
    prompt prefixes by itself and takes no such marker.
    """

    text: str
    type: Literal["text"] = "text"
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ImagePart:
    """An image: an ``https:`` URL or a ``data:<media type>;base64,<data>`` URL."""

    url: str
    detail: str | None = None
    type: Literal["image"] = "image"


@dataclass(slots=True)
class ThinkingPart:
    """A model's reasoning, shown in a conversation or an answer.

    From Anthropic it is a ``thinking`` block sealed by ``signature`` (or, redacted, an
    opaque ``redacted`` payload with no text): the seal is valid only for Anthropic
    models, which require it back unchanged. From OpenAI-format servers (vLLM's
    ``reasoning_content`` and others) it is plain text with no seal.
    """

    text: str
    signature: str | None = None
    redacted: str | None = None
    type: Literal["thinking"] = "thinking"


ContentPart = TextPart | ImagePart | ThinkingPart


@dataclass(slots=True)
class ToolCall:
    """A tool invocation produced by a model; ``arguments`` is the model's JSON text."""

    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class Message:
    """One conversation turn. ``tool_call_id`` is set on ``tool`` results.

    ``is_error`` marks a ``tool`` result that reports a failed tool run (Anthropic's
    ``tool_result.is_error``; OpenAI has no equivalent and drops it).
    """

    role: Role
    content: list[ContentPart] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    def text(self) -> str:
        """Concatenate the text parts."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@dataclass(slots=True)
class ToolSpec:
    """A function the model may call; ``parameters`` is a JSON Schema object."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    cache_control: dict[str, Any] | None = None  # a prompt-cache breakpoint (see TextPart)
    strict: bool | None = None
    """Arguments held to ``parameters`` exactly (OpenAI's ``function.strict``, Anthropic's
    ``strict``)."""


@dataclass(slots=True)
class ToolChoice:
    """Whether and which tool the model must call; ``name`` is set for mode ``tool``."""

    mode: ToolChoiceMode
    name: str | None = None
    allowed: list[str] | None = None
    """OpenAI's ``allowed_tools``: the tools (by name) the model may call, of those given."""


@dataclass(slots=True)
class ResponseFormat:
    """Structured-output request; ``schema`` and ``name`` are set for ``json_schema``."""

    type: ResponseFormatType
    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None


@dataclass(slots=True)
class Thinking:
    """Extended reasoning asked for: Anthropic's ``thinking``, OpenAI's ``reasoning_effort``.

    ``budget_tokens`` is set for ``enabled`` (the most the model may spend thinking).
    """

    mode: Literal["enabled", "adaptive", "disabled"]
    budget_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ClientBody:
    """A request as its client sent it, for an upstream that speaks the same format.

    ``body`` is the client's JSON without tokenhub's own ``tokenhub`` field; ``headers``
    are the vendor headers the client sent that an upstream of that format understands
    (``anthropic-version``, ``anthropic-beta``, ``openai-beta``), by lower-case name.
    """

    format: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FieldNote:
    """Something of a request or an answer that could not be carried to the other side."""

    field: str
    """Where it was: a body field (``logprobs``), a block (``messages[2].content[0]``)."""
    reason: str

    def __str__(self) -> str:
        """``field: reason``, as ``X-Tokenhub-Warnings`` lists it."""
        return f"{self.field}: {self.reason}"


@dataclass(slots=True)
class ChatRequest:
    """A provider-neutral chat request."""

    model: str
    messages: list[Message]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[ToolSpec] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    stream: bool = False
    user: str | None = None
    # seed and the penalties have no Anthropic equivalent (dropped there, noted);
    # reasoning_effort and thinking cross as each other (see wire.crossing), parallel_tool_calls
    # as Anthropic's tool_choice.disable_parallel_tool_use.
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    reasoning_effort: str | None = None
    parallel_tool_calls: bool | None = None
    thinking: Thinking | None = None
    top_k: int | None = None
    source: ClientBody | None = None
    """The client's own body: forwarded whole to an upstream of the same format."""
    strict: bool = False
    """Refuse (400) rather than drop what the upstream's format cannot carry."""
    service_tier: str | None = None
    """The capacity asked for, in OpenAI's words (``auto``, ``default``, ``flex``...);
    Anthropic's ``standard_only`` is ``default``."""
    notes: list[FieldNote] = field(default_factory=list)
    """What of the client's request no upstream format carries (the client API's own
    fields with no canonical counterpart); reported, or refused when ``strict``, as the
    adapter's own notes are."""


@dataclass(slots=True)
class Usage:
    """Token counts as reported by the provider."""

    input_tokens: int = 0
    output_tokens: int = 0
    # Parts of input_tokens the provider served from, or wrote to, its prompt cache.
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    """Part of output_tokens the model spent reasoning (OpenAI ``reasoning_tokens``,
    Anthropic ``thinking_tokens``): already in output_tokens, so priced with them."""

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class ChatResponse:
    """A provider-neutral, complete chat response.

    ``stop_sequence`` names the stop sequence that ended a ``stop`` finish, when the
    provider says so (Anthropic does; OpenAI does not).
    """

    id: str
    model: str
    message: Message
    finish_reason: FinishReason
    usage: Usage = field(default_factory=Usage)
    created: int = 0
    stop_sequence: str | None = None
    raw: dict[str, Any] | None = None
    """The upstream's own answer, kept when the client speaks its format (sent whole)."""
    notes: list[FieldNote] = field(default_factory=list)
    """What of the request or the answer could not be carried across formats."""
    unmapped: list[FieldNote] = field(default_factory=list)
    """Parts of the upstream's answer the canonical form does not model (citations,
    logprobs, server-tool blocks): lost, so noted, whenever the answer is rendered anew."""


@dataclass(slots=True)
class StreamStart:
    """First event of a stream: the response id and the model that answers."""

    id: str
    model: str
    created: int = 0
    input_tokens: int = 0


@dataclass(slots=True)
class TextDelta:
    """A fragment of assistant text."""

    text: str


@dataclass(slots=True)
class ThinkingDelta:
    """A fragment of the model's reasoning; the seal (``signature``) or a redacted block.

    Anthropic streams thinking text, then the block's signature; a ``redacted_thinking``
    block arrives whole (``redacted``). OpenAI-format servers stream text only.
    """

    text: str = ""
    signature: str | None = None
    redacted: str | None = None


@dataclass(slots=True)
class ToolCallStart:
    """A tool call begins at position ``index`` of the message's tool calls."""

    index: int
    id: str
    name: str


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of the JSON arguments of the tool call at ``index``."""

    index: int
    arguments: str


@dataclass(slots=True)
class StreamEnd:
    """Last event of a stream: why generation stopped, the final usage, the stop sequence."""

    finish_reason: FinishReason
    usage: Usage = field(default_factory=Usage)
    stop_sequence: str | None = None
    notes: list[FieldNote] = field(default_factory=list)
    """Parts of the upstream's stream the canonical events do not carry, met on the way."""


StreamEvent = StreamStart | TextDelta | ThinkingDelta | ToolCallStart | ToolCallDelta | StreamEnd
