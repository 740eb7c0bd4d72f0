"""Anthropic Messages SSE streams to and from canonical stream events.

The decoder reads the JSON ``data`` of each event (its ``type`` names the event, so the
``event:`` line is not needed). Canonical tool-call indexes count tool calls only, while
Anthropic's block indexes count every content block; both sides keep the mapping.

Thinking maps both ways: a ``thinking`` block's ``thinking_delta``s and its
``signature_delta``, and a ``redacted_thinking`` block, are :class:`ThinkingDelta`s; the
encoder opens a ``thinking`` block for them (its signature empty when the reasoning came
unsigned, from an OpenAI-format server) and a new one after each signature. What the
canonical events do not carry (``citations_delta``, server-tool blocks, a ``pause_turn``
stop, a ``container``, server-tool usage) is noted once each on the :class:`StreamEnd`.
The encoder writes the notes of the stream at its end, where headers can no longer go:
as SSE comment lines (``: tokenhub-warning <field>: <reason>``, which SDKs skip) and in a
``tokenhub`` member (``{"warnings": [...]}``) of the ``message_delta`` event.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.wire._common import dumps, warning_comments, warnings_member
from tokenhub.types import (
    FieldNote,
    FinishReason,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)

STOP_REASONS: dict[Any, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
"""Anthropic ``stop_reason`` to canonical finish reason."""

_FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}

_ERROR_KINDS: dict[Any, ErrorKind] = {
    "rate_limit_error": ErrorKind.RATE_LIMITED,
    "authentication_error": ErrorKind.AUTH,
    "permission_error": ErrorKind.AUTH,
    "billing_error": ErrorKind.QUOTA_EXHAUSTED,
    "invalid_request_error": ErrorKind.FATAL,
    "request_too_large": ErrorKind.FATAL,
    "not_found_error": ErrorKind.MODEL_UNAVAILABLE,
}

_INPUT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def stop_reason(finish: FinishReason, stop_sequence: str | None) -> str:
    """Canonical finish reason (and matched stop sequence) to Anthropic ``stop_reason``."""
    if finish == "stop" and stop_sequence is not None:
        return "stop_sequence"
    return _FINISH_TO_STOP[finish]


def render_usage(usage: Usage) -> dict[str, Any]:
    """Anthropic's usage: ``input_tokens`` excludes the cache reads and writes beside it.

    Reasoning is ``output_tokens_details.thinking_tokens``.
    """
    read, write = usage.cache_read_tokens, usage.cache_write_tokens
    out: dict[str, Any] = {"input_tokens": max(0, usage.input_tokens - read - write)}
    if write:
        out["cache_creation_input_tokens"] = write
    if read:
        out["cache_read_input_tokens"] = read
    out["output_tokens"] = usage.output_tokens
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def parse_usage(usage: dict[str, Any]) -> Usage:
    """Anthropic usage to canonical; cache reads and writes count as input tokens too.

    Thinking tokens are part of output_tokens.
    """
    total = sum(usage.get(k) or 0 for k in _INPUT_KEYS)
    return Usage(
        total,
        usage.get("output_tokens") or 0,
        cache_read_tokens=usage.get("cache_read_input_tokens") or 0,
        cache_write_tokens=usage.get("cache_creation_input_tokens") or 0,
        reasoning_tokens=thinking_tokens(usage) or 0,
    )


def thinking_tokens(usage: dict[str, Any]) -> int | None:
    """``output_tokens_details.thinking_tokens``, if the usage has it."""
    details = usage.get("output_tokens_details")
    value = details.get("thinking_tokens") if isinstance(details, dict) else None
    return value if isinstance(value, int) else None


def stream_error(error: Any) -> ProviderError:
    """Turn the payload of an ``error`` event into a classified ``ProviderError``."""
    detail = error if isinstance(error, dict) else {"message": str(error)}
    message = str(detail.get("message") or "upstream stream error")
    kind = _ERROR_KINDS.get(detail.get("type"), ErrorKind.TRANSIENT)
    if kind is ErrorKind.FATAL and "too long" in message:
        kind = ErrorKind.CONTEXT_OVERFLOW
    return ProviderError(kind, message)


_TEXT, _THINKING = -1, -2
"""Decoder slots of non-tool blocks (a tool block's slot is its tool ordinal)."""

CITATIONS = "Anthropic citations on the text; the text is kept without them"


def block_note(path: str, kind: str) -> FieldNote:
    """The note for an Anthropic content block tokenhub does not model (server tools)."""
    return FieldNote(path, f"an Anthropic {kind} block (server tools), not translated")


def envelope_notes(message: dict[str, Any], usage: dict[str, Any]) -> list[FieldNote]:
    """Notes for what a ``message`` (or a ``message_delta``'s delta) says beyond its content."""
    notes: list[FieldNote] = []
    if message.get("container"):
        notes.append(FieldNote("container", "the Anthropic code-execution container"))
    if message.get("stop_details"):
        notes.append(FieldNote("stop_details", "Anthropic's detail of why the model stopped"))
    if message.get("stop_reason") == "pause_turn":
        reason = "Anthropic paused a long server-tool turn; translated as a plain stop"
        notes.append(FieldNote("stop_reason", reason))
    if usage.get("server_tool_use"):
        reason = "Anthropic server-tool request counts (web searches and the like)"
        notes.append(FieldNote("usage.server_tool_use", reason))
    return notes


class StreamDecoder:
    """Turns Anthropic stream events (parsed ``data`` objects) into canonical events."""

    def __init__(self) -> None:
        self._blocks: dict[int, int] = {}  # block index -> tool ordinal, _TEXT or _THINKING
        self._tools = 0
        self._notes: dict[str, FieldNote] = {}  # by field: a note is given once
        self._input = dict.fromkeys(_INPUT_KEYS, 0)
        self._output = 0
        self._reasoning: int | None = None
        self._stop: FinishReason = "stop"
        self._stop_sequence: str | None = None
        self._ended = False

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        """Translate one event; raise ``ProviderError`` on an ``error`` event or bad data."""
        try:
            return self._feed(event)
        except (KeyError, TypeError, AttributeError) as exc:
            msg = f"malformed Anthropic stream event from upstream: {exc!r}"
            raise ProviderError(ErrorKind.TRANSIENT, msg) from exc

    def finish(self) -> list[StreamEvent]:
        """Call when the upstream closes; a stream cut before ``message_stop`` is an error."""
        if not self._ended:
            msg = "upstream stream ended before message_stop"
            raise ProviderError(ErrorKind.TRANSIENT, msg)
        return []

    def _feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event["type"]
        if kind == "content_block_delta":
            return self._delta(event)
        if kind == "content_block_start":
            return self._block_start(event["index"], event["content_block"])
        if kind == "message_start":
            return self._start(event["message"])
        if kind == "message_delta":
            self._message_delta(event)
            return []
        if kind == "message_stop":
            self._ended = True
            usage = Usage(
                sum(self._input.values()),
                self._output,
                cache_read_tokens=self._input.get("cache_read_input_tokens", 0),
                cache_write_tokens=self._input.get("cache_creation_input_tokens", 0),
                reasoning_tokens=self._reasoning or 0,
            )
            notes = list(self._notes.values())
            return [StreamEnd(self._stop, usage, self._stop_sequence, notes)]
        if kind == "error":
            raise stream_error(event.get("error"))
        return []  # ping, content_block_stop, and event types added after this was written

    def _start(self, message: dict[str, Any]) -> list[StreamEvent]:
        self._usage(message.get("usage") or {})
        created = 0  # Anthropic messages carry no timestamp
        return [StreamStart(message["id"], message["model"], created, sum(self._input.values()))]

    def _block_start(self, index: int, block: dict[str, Any]) -> list[StreamEvent]:
        kind = block["type"]
        if kind == "text":
            self._blocks[index] = _TEXT
            return [TextDelta(block["text"])] if block.get("text") else []
        if kind == "thinking":
            self._blocks[index] = _THINKING
            return self._thinking(block.get("thinking"), block.get("signature"))
        if kind == "redacted_thinking":
            return [ThinkingDelta(redacted=block["data"])]
        if kind != "tool_use":
            self._note(block_note(f"content[{index}]", kind))
            return []
        ordinal = self._tools
        self._tools += 1
        self._blocks[index] = ordinal
        out: list[StreamEvent] = [ToolCallStart(ordinal, block["id"], block["name"])]
        if block.get("input"):
            out.append(ToolCallDelta(ordinal, dumps(block["input"])))
        return out

    def _delta(self, event: dict[str, Any]) -> list[StreamEvent]:
        slot = self._blocks.get(event["index"])
        delta = event["delta"]
        kind = delta["type"]
        if slot == _TEXT and kind == "text_delta" and delta["text"]:
            return [TextDelta(delta["text"])]
        if slot is not None and slot >= 0 and kind == "input_json_delta" and delta["partial_json"]:
            return [ToolCallDelta(slot, delta["partial_json"])]
        if slot == _THINKING and kind in ("thinking_delta", "signature_delta"):
            return self._thinking(delta.get("thinking"), delta.get("signature"))
        if kind == "citations_delta":
            self._note(FieldNote(f"content[{event['index']}].citations", CITATIONS))
        return []

    @staticmethod
    def _thinking(text: str | None, signature: str | None) -> list[StreamEvent]:
        if not text and not signature:
            return []
        return [ThinkingDelta(text or "", signature or None)]

    def _note(self, note: FieldNote) -> None:
        self._notes.setdefault(note.field, note)

    def _message_delta(self, event: dict[str, Any]) -> None:
        delta = event.get("delta") or {}
        if delta.get("stop_reason"):
            self._stop = STOP_REASONS.get(delta["stop_reason"], "stop")
            self._stop_sequence = delta.get("stop_sequence") if self._stop == "stop" else None
        usage = event.get("usage") or {}
        for note in envelope_notes(delta, usage):
            self._note(note)
        self._usage(usage)

    def _usage(self, usage: dict[str, Any]) -> None:
        """Usage counts are cumulative: each present count replaces the previous one."""
        for key in _INPUT_KEYS:
            if usage.get(key) is not None:
                self._input[key] = usage[key]
        if usage.get("output_tokens") is not None:
            self._output = usage["output_tokens"]
        thinking = thinking_tokens(usage)
        if thinking is not None:
            self._reasoning = thinking


def _frame(name: bytes, payload: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


_PING = _frame(b"ping", {"type": "ping"})


class StreamEncoder:
    """Renders canonical events as Anthropic SSE frames (``event:`` + ``data:``).

    Blocks open lazily and close when the next one opens, as Anthropic sends them; a
    ``ping`` follows ``message_start``.
    """

    def __init__(self) -> None:
        self._open: str | None = None  # "text", "thinking", "signed" (sealed), "tool_use"...
        self._block = -1
        self._tool_blocks: dict[int, int] = {}  # tool ordinal -> block index
        self.notes: list[FieldNote] = []
        """What the stream could not carry, written at its end."""

    def encode(self, event: StreamEvent) -> bytes:
        """Return the SSE bytes for one event."""
        if isinstance(event, TextDelta):
            head = b"" if self._open == "text" else self._open_block({"type": "text", "text": ""})
            delta = {"type": "text_delta", "text": event.text}
            return head + self._delta(self._block, delta)
        if isinstance(event, ToolCallDelta):
            delta = {"type": "input_json_delta", "partial_json": event.arguments}
            return self._delta(self._tool_blocks[event.index], delta)
        if isinstance(event, ToolCallStart):
            block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
            head = self._open_block(block)
            self._tool_blocks[event.index] = self._block
            return head
        if isinstance(event, ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, StreamStart):
            return self._start(event)
        return self._end(event)

    def _thinking(self, event: ThinkingDelta) -> bytes:
        """A redacted block whole, else thinking text and its seal in a ``thinking`` block.

        A block ends at its signature: reasoning after it opens the next block.
        """
        if event.redacted is not None:
            return self._open_block({"type": "redacted_thinking", "data": event.redacted})
        out = b""
        if self._open != "thinking":
            out = self._open_block({"type": "thinking", "thinking": "", "signature": ""})
        if event.text:
            out += self._delta(self._block, {"type": "thinking_delta", "thinking": event.text})
        if event.signature:
            seal = {"type": "signature_delta", "signature": event.signature}
            out += self._delta(self._block, seal)
            self._open = "signed"
        return out

    def _start(self, event: StreamStart) -> bytes:
        message: dict[str, Any] = {
            "id": event.id,
            "type": "message",
            "role": "assistant",
            "model": event.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": event.input_tokens, "output_tokens": 0},
        }
        return _frame(b"message_start", {"type": "message_start", "message": message}) + _PING

    def _end(self, event: StreamEnd) -> bytes:
        reason = stop_reason(event.finish_reason, event.stop_sequence)
        delta = {
            "stop_reason": reason,
            "stop_sequence": event.stop_sequence if reason == "stop_sequence" else None,
        }
        self.notes.extend(event.notes)
        payload = {"type": "message_delta", "delta": delta, "usage": render_usage(event.usage)}
        payload.update(warnings_member(self.notes))
        return (
            self._close()
            + warning_comments(self.notes)
            + _frame(b"message_delta", payload)
            + _frame(b"message_stop", {"type": "message_stop"})
        )

    def _open_block(self, block: dict[str, Any]) -> bytes:
        head = self._close()
        self._block += 1
        self._open = block["type"]
        payload = {"type": "content_block_start", "index": self._block, "content_block": block}
        return head + _frame(b"content_block_start", payload)

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return _frame(b"content_block_stop", {"type": "content_block_stop", "index": self._block})

    @staticmethod
    def _delta(index: int, delta: dict[str, Any]) -> bytes:
        payload = {"type": "content_block_delta", "index": index, "delta": delta}
        return _frame(b"content_block_delta", payload)
