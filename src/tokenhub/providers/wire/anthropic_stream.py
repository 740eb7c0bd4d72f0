"""Anthropic Messages SSE streams to and from canonical stream events.

The decoder reads the JSON ``data`` of each event (its ``type`` names the event, so the
``event:`` line is not needed). Canonical tool-call indexes count tool calls only, while
Anthropic's block indexes count every content block; both sides keep the mapping.
Block types tokenhub does not model (thinking, server tools) are skipped.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.wire._common import dumps
from tokenhub.types import (
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


def render_usage(usage: Usage) -> dict[str, int]:
    """Anthropic's usage: ``input_tokens`` excludes the cache reads and writes beside it."""
    read, write = usage.cache_read_tokens, usage.cache_write_tokens
    out = {"input_tokens": max(0, usage.input_tokens - read - write)}
    if write:
        out["cache_creation_input_tokens"] = write
    if read:
        out["cache_read_input_tokens"] = read
    out["output_tokens"] = usage.output_tokens
    return out


def parse_usage(usage: dict[str, Any]) -> Usage:
    """Anthropic usage to canonical; cache reads and writes count as input tokens too."""
    total = sum(usage.get(k) or 0 for k in _INPUT_KEYS)
    return Usage(
        total,
        usage.get("output_tokens") or 0,
        cache_read_tokens=usage.get("cache_read_input_tokens") or 0,
        cache_write_tokens=usage.get("cache_creation_input_tokens") or 0,
    )


def stream_error(error: Any) -> ProviderError:
    """Turn the payload of an ``error`` event into a classified ``ProviderError``."""
    detail = error if isinstance(error, dict) else {"message": str(error)}
    message = str(detail.get("message") or "upstream stream error")
    kind = _ERROR_KINDS.get(detail.get("type"), ErrorKind.TRANSIENT)
    if kind is ErrorKind.FATAL and "too long" in message:
        kind = ErrorKind.CONTEXT_OVERFLOW
    return ProviderError(kind, message)


class StreamDecoder:
    """Turns Anthropic stream events (parsed ``data`` objects) into canonical events."""

    def __init__(self) -> None:
        self._blocks: dict[int, int] = {}  # block index -> tool ordinal, -1 for text
        self._tools = 0
        self._input = dict.fromkeys(_INPUT_KEYS, 0)
        self._output = 0
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
            )
            return [StreamEnd(self._stop, usage, self._stop_sequence)]
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
            self._blocks[index] = -1
            return [TextDelta(block["text"])] if block.get("text") else []
        if kind != "tool_use":
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
        if slot == -1 and kind == "text_delta" and delta["text"]:
            return [TextDelta(delta["text"])]
        if slot is not None and slot >= 0 and kind == "input_json_delta" and delta["partial_json"]:
            return [ToolCallDelta(slot, delta["partial_json"])]
        return []

    def _message_delta(self, event: dict[str, Any]) -> None:
        delta = event.get("delta") or {}
        if delta.get("stop_reason"):
            self._stop = STOP_REASONS.get(delta["stop_reason"], "stop")
            self._stop_sequence = delta.get("stop_sequence") if self._stop == "stop" else None
        self._usage(event.get("usage") or {})

    def _usage(self, usage: dict[str, Any]) -> None:
        """Usage counts are cumulative: each present count replaces the previous one."""
        for key in _INPUT_KEYS:
            if usage.get(key) is not None:
                self._input[key] = usage[key]
        if usage.get("output_tokens") is not None:
            self._output = usage["output_tokens"]


def _frame(name: bytes, payload: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


_PING = _frame(b"ping", {"type": "ping"})


class StreamEncoder:
    """Renders canonical events as Anthropic SSE frames (``event:`` + ``data:``).

    Blocks open lazily and close when the next one opens, as Anthropic sends them; a
    ``ping`` follows ``message_start``.
    """

    def __init__(self) -> None:
        self._open: str | None = None  # "text" or "tool_use"
        self._block = -1
        self._tool_blocks: dict[int, int] = {}  # tool ordinal -> block index

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
            return b""  # thinking across formats: translated by the wire-fidelity work
        if isinstance(event, StreamStart):
            return self._start(event)
        return self._end(event)

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
        payload = {"type": "message_delta", "delta": delta, "usage": render_usage(event.usage)}
        return (
            self._close()
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
