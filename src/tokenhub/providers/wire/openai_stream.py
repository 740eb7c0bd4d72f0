"""OpenAI ``chat.completion.chunk`` streams to and from canonical stream events.

The decoder reads the JSON of each ``data:`` line (the caller strips SSE framing and
stops at ``[DONE]``, then calls :meth:`StreamDecoder.finish`). With
``stream_options.include_usage`` the finish reason arrives one chunk before the usage
chunk (``choices: []``), so :class:`StreamEnd` is held back until that chunk or ``[DONE]``.

Reasoning maps both ways: ``delta.reasoning_content`` (or ``delta.reasoning``) is a
:class:`ThinkingDelta`, and the encoder writes thinking text as ``delta.reasoning_content``.
What the canonical events do not carry (``logprobs``, ``annotations``, ``audio``, choices
after the first) is noted once each on the :class:`StreamEnd`, and so is what an OpenAI
client cannot be shown (Anthropic's thinking signatures, redacted thinking, the matched
stop sequence). The encoder writes the notes of the stream at its end, where headers can
no longer go: as SSE comment lines (``: tokenhub-warning <field>: <reason>``, which SDKs
skip) and in a ``tokenhub`` member (``{"warnings": [...]}``) of the chunk carrying the
finish reason.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.wire._common import warning_comments, warnings_member
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

FINISH_REASONS: dict[Any, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
"""OpenAI ``finish_reason`` to canonical; the deprecated ``function_call`` is a tool call."""

_DONE = b"data: [DONE]\n\n"

REASONING_KEYS = ("reasoning_content", "reasoning")
"""Where OpenAI-format servers put the reasoning text (vLLM, DeepSeek), most common first."""

SIGNATURE_NOTE = FieldNote(
    "thinking.signature",
    "Anthropic's seal on its thinking has no OpenAI field (the text is in reasoning_content)",
)
REDACTED_NOTE = FieldNote("redacted_thinking", "Anthropic's encrypted thinking has no OpenAI field")
STOP_SEQUENCE_NOTE = FieldNote(
    "stop_sequence", "which stop sequence ended the answer: the OpenAI format does not say"
)
LOGPROBS_NOTE = FieldNote("choices[0].logprobs", "token log probabilities, not translated")
MESSAGE_FIELDS = {
    "annotations": "URL citations on the text, not translated",
    "audio": "audio output, not translated",
    "function_call": "a deprecated function_call, not translated",
}
"""Members of a message (or a delta) the canonical form does not model, and why noted."""


def reasoning_of(message: dict[str, Any]) -> str | None:
    """The reasoning text of a message or a delta, under whichever key the server uses."""
    for key in REASONING_KEYS:
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def render_usage(usage: Usage) -> dict[str, Any]:
    """OpenAI's usage object; cache reads as ``prompt_tokens_details.cached_tokens``.

    Reasoning is ``completion_tokens_details.reasoning_tokens``; cache writes, which OpenAI
    does not report, ``prompt_tokens_details.cache_creation_tokens``.
    """
    out: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }
    prompt = {
        key: count
        for key, count in (
            ("cached_tokens", usage.cache_read_tokens),
            ("cache_creation_tokens", usage.cache_write_tokens),
        )
        if count
    }
    if prompt:
        out["prompt_tokens_details"] = prompt
    if usage.reasoning_tokens:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def parse_usage(usage: dict[str, Any]) -> Usage:
    """OpenAI usage to canonical; cached prompt tokens are part of prompt_tokens.

    Reasoning tokens are part of completion_tokens.
    """
    return Usage(
        usage.get("prompt_tokens") or 0,
        usage.get("completion_tokens") or 0,
        cache_read_tokens=_detail(usage, "prompt_tokens_details", "cached_tokens"),
        reasoning_tokens=_detail(usage, "completion_tokens_details", "reasoning_tokens"),
    )


def _detail(usage: dict[str, Any], details: str, key: str) -> int:
    """One count of a usage details object; 0 when absent or null."""
    found = usage.get(details)
    value = found.get(key) if isinstance(found, dict) else None
    return value if isinstance(value, int) else 0


def stream_error(error: Any) -> ProviderError:
    """Turn an ``{"error": ...}`` payload met mid-stream into a classified ``ProviderError``."""
    detail = error if isinstance(error, dict) else {"message": str(error)}
    words = f"{detail.get('type')} {detail.get('code')}"
    if "context_length" in words:
        kind = ErrorKind.CONTEXT_OVERFLOW
    elif "insufficient_quota" in words or "billing" in words:
        kind = ErrorKind.QUOTA_EXHAUSTED
    elif "rate_limit" in words or "quota" in words:
        kind = ErrorKind.RATE_LIMITED
    elif "auth" in words or "api_key" in words or "permission" in words:
        kind = ErrorKind.AUTH
    elif "not_found" in words:
        kind = ErrorKind.MODEL_UNAVAILABLE
    else:
        kind = ErrorKind.TRANSIENT
    return ProviderError(kind, str(detail.get("message") or "upstream stream error"))


class StreamDecoder:
    """Turns upstream ``chat.completion.chunk`` objects into canonical events.

    Only choice 0 is read. A tool call starts at the first fragment seen for its index.
    """

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._finish: FinishReason | None = None
        self._usage = Usage()
        self._tools: set[int] = set()
        self._notes: dict[str, FieldNote] = {}  # by field: a note is given once

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        """Translate one chunk; raise ``ProviderError`` if it carries an error or is malformed."""
        if "error" in chunk:
            raise stream_error(chunk["error"])
        try:
            return self._feed(chunk)
        except (KeyError, TypeError, AttributeError) as exc:
            msg = f"malformed chat.completion.chunk from upstream: {exc!r}"
            raise ProviderError(ErrorKind.TRANSIENT, msg) from exc

    def _feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        out: list[StreamEvent] = []
        if not self._started:
            self._started = True
            out.append(StreamStart(chunk["id"], chunk["model"], chunk.get("created") or 0))
        usage = chunk.get("usage")
        if usage:
            self._usage = parse_usage(usage)
        choices = chunk.get("choices")
        for choice in choices or ():
            if choice.get("index", 0) == 0:
                self._choice(choice, out)
            else:
                self._note(FieldNote("choices", "choices after the first, not translated"))
        if usage and not choices and self._finish is not None:
            out.append(self._end())
        return out

    def finish(self) -> list[StreamEvent]:
        """Flush at ``[DONE]``; a stream that never gave a finish reason is a provider error."""
        if self._ended:
            return []
        if self._finish is None:
            msg = "upstream stream ended without a finish_reason"
            raise ProviderError(ErrorKind.TRANSIENT, msg)
        return [self._end()]

    def _choice(self, choice: dict[str, Any], out: list[StreamEvent]) -> None:
        delta = choice.get("delta") or {}
        reasoning = reasoning_of(delta)
        if reasoning is not None:
            out.append(ThinkingDelta(reasoning))
        text = delta.get("content") or delta.get("refusal")
        if text:
            out.append(TextDelta(text))
        for call in delta.get("tool_calls") or ():
            self._tool_call(call, out)
        reason = choice.get("finish_reason")
        if reason:
            self._finish = FINISH_REASONS.get(reason, "stop")
        self._unmodelled(choice, delta)

    def _unmodelled(self, choice: dict[str, Any], delta: dict[str, Any]) -> None:
        """Note what of choice 0 the canonical events do not carry."""
        if choice.get("logprobs"):
            self._note(LOGPROBS_NOTE)
        for key, why in MESSAGE_FIELDS.items():
            if delta.get(key):
                self._note(FieldNote(f"choices[0].delta.{key}", why))

    def _tool_call(self, call: dict[str, Any], out: list[StreamEvent]) -> None:
        index = call["index"]
        function = call.get("function") or {}
        if index not in self._tools:
            self._tools.add(index)
            out.append(ToolCallStart(index, call.get("id") or "", function.get("name") or ""))
        arguments = function.get("arguments")
        if arguments:
            out.append(ToolCallDelta(index, arguments))

    def _note(self, note: FieldNote) -> None:
        self._notes.setdefault(note.field, note)

    def _end(self) -> StreamEnd:
        self._ended = True
        assert self._finish is not None
        return StreamEnd(self._finish, self._usage, notes=list(self._notes.values()))


class StreamEncoder:
    """Renders canonical events as OpenAI SSE ``data:`` frames, ending with ``[DONE]``.

    ``include_usage`` mirrors the client's ``stream_options.include_usage``: every chunk
    then carries ``"usage": null`` and a usage chunk with empty ``choices`` precedes
    ``[DONE]``. Response id, model and created come from :class:`StreamStart`.
    """

    def __init__(self, *, include_usage: bool = False) -> None:
        self._include_usage = include_usage
        self._head: dict[str, Any] = {}
        self.notes: list[FieldNote] = []
        """What the stream could not carry, written at its end."""

    def encode(self, event: StreamEvent) -> bytes:
        """Return the SSE bytes for one event (several frames for :class:`StreamEnd`)."""
        if isinstance(event, TextDelta):
            return self._frame({"content": event.text})
        if isinstance(event, ToolCallDelta):
            call: dict[str, Any] = {
                "index": event.index,
                "function": {"arguments": event.arguments},
            }
            return self._frame({"tool_calls": [call]})
        if isinstance(event, ToolCallStart):
            function = {"name": event.name, "arguments": ""}
            call = {"index": event.index, "id": event.id, "type": "function", "function": function}
            return self._frame({"tool_calls": [call]})
        if isinstance(event, ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, StreamStart):
            return self._start(event)
        return self._end(event)

    def _start(self, event: StreamStart) -> bytes:
        self._head = {
            "id": event.id,
            "object": "chat.completion.chunk",
            "created": event.created,
            "model": event.model,
        }
        return self._frame({"role": "assistant", "content": "", "refusal": None})

    def _thinking(self, event: ThinkingDelta) -> bytes:
        """Reasoning text as ``reasoning_content``; a seal or a redacted block is noted."""
        if event.signature and SIGNATURE_NOTE not in self.notes:
            self.notes.append(SIGNATURE_NOTE)
        if event.redacted is not None and REDACTED_NOTE not in self.notes:
            self.notes.append(REDACTED_NOTE)
        return self._frame({"reasoning_content": event.text}) if event.text else b""

    def _end(self, event: StreamEnd) -> bytes:
        self.notes.extend(event.notes)
        if event.stop_sequence is not None:
            self.notes.append(STOP_SEQUENCE_NOTE)
        frames = warning_comments(self.notes)
        frames += self._frame({}, event.finish_reason, warnings_member(self.notes))
        if self._include_usage:
            chunk = {**self._head, "choices": [], "usage": render_usage(event.usage)}
            frames += b"data: " + orjson.dumps(chunk) + b"\n\n"
        return frames + _DONE

    def _frame(
        self,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        chunk = {**self._head, "choices": [choice], **(extra or {})}
        if self._include_usage:
            chunk["usage"] = None
        return b"data: " + orjson.dumps(chunk) + b"\n\n"
