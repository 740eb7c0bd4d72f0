"""Passthrough: an upstream's own SSE bytes, relayed to a client that speaks its format.

Translating an OpenAI stream for an OpenAI client (or an Anthropic stream for an Anthropic
client) decodes and re-encodes every chunk to produce what the upstream already sent, and
loses whatever the canonical events do not model (thinking and its signatures, citations,
logprobs, server-tool blocks). A relay forwards whole frames as they arrived (everything
one network read completed) and changes only what tokenhub must:

- **The model name.** Every ``"model": "<string>"`` member shows tokenhub's model id. It
  cannot hit content: a quote inside a JSON string is always escaped, so a quote right
  after ``model`` closes a string, and a colon after that makes it an object key; content
  that mentions ``"model":"x"`` travels with each of those quotes escaped. The only
  ``model`` key of a ``chat.completion.chunk`` is the envelope's, and of an Anthropic stream
  the ``message_start`` message's.
- **Usage (OpenAI).** Tokenhub always asks the upstream for ``stream_options.include_usage``; when
  the client did not, the usage-only chunk (``choices: []``) and the ``,"usage":null``
  members on the other chunks are dropped, as OpenAI would not have sent them.
- **What tokenhub learns.** Only frames that may carry a finish reason, usage, an error or
  the end are parsed (``notable``: for OpenAI a non-null ``finish_reason`` or ``usage``,
  ``"error"``, ``[DONE]``; for Anthropic the ``message_*`` and ``error`` events), each
  through the adapter's own ``frame``: an in-stream error is classified and scrubbed of
  the credential as on the translated path, and a stream that ends without its finish
  (OpenAI: a finish reason; Anthropic: ``message_stop``) is an error there as here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.http import parse_event
from tokenhub.providers.wire.anthropic_stream import StreamDecoder as AnthropicStreamDecoder
from tokenhub.providers.wire.openai_stream import FINISH_REASONS, parse_usage
from tokenhub.types import FinishReason, StreamEnd, StreamEvent, Usage

if TYPE_CHECKING:
    from tokenhub.providers.stream import Frame

_MODEL_KEY = b'"model"'
_MODEL_MEMBER = re.compile(rb'"model"\s*:\s*"(?:[^"\\]|\\.)*"')
_NULL_USAGE = b',"usage":null'
_BLANK = b"\n\n"
_DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True, slots=True)
class RelayEdit:
    """What the client must see differently from the upstream's bytes."""

    model: str
    """Tokenhub's model id, shown wherever the upstream names its model."""
    include_usage: bool
    """Whether the client asked for the usage chunk (``stream_options.include_usage``)."""
    upstream_model: str | None = None
    """The model name the upstream's first chunk gave (the fast, exact replacement)."""


class Relay(Protocol):
    """Turns an upstream body, read by read, into the client's bytes."""

    end: StreamEnd | None
    error: ProviderError | None

    def feed(self, chunk: bytes) -> bytes:
        """The client's bytes for what ``chunk`` completes; ``b""`` is the end of the body."""
        ...


def notable(frames: bytes) -> bool:
    """Whether ``frames`` may carry a finish reason, usage, an error or ``[DONE]``.

    Never wrong that way round: a non-null ``finish_reason`` or ``usage`` member, however
    spaced, makes its two counts differ. A false positive costs one JSON parse.
    """
    return (
        b"[DONE]" in frames
        or b'"error"' in frames
        or frames.count(b'"finish_reason"') != frames.count(b'"finish_reason":null')
        or frames.count(b'"usage"') != frames.count(b'"usage":null')
    )


def split_notable(
    block: bytes, is_notable: Callable[[bytes], bool] = notable
) -> tuple[bytes, bytes]:
    """Whole frames as a head that needs no look and the frames after it that may.

    The frames that matter end a stream, so they are found walking back from the end; a
    head that still holds one (say, a finish reason followed by plain frames) is looked
    into whole.
    """
    cut = len(block)
    while cut:
        start = block.rfind(_BLANK, 0, cut - 2)
        start = 0 if start < 0 else start + 2
        if not is_notable(block[start:cut]):
            if start and is_notable(block[:start]):
                return b"", block
            return block[:cut], block[cut:]
        cut = start
    return b"", block


class UsageLearner:
    """A ``Decoder`` that keeps only what tokenhub must learn: finish reason and usage."""

    def __init__(self) -> None:
        self.finish_reason: FinishReason | None = None
        self.usage = Usage()
        self.usage_only = False
        """Whether the last chunk fed was the usage chunk (usage, no choices)."""

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        """Learn from one chunk; a malformed one is a transient provider error."""
        try:
            self._learn(chunk)
        except (KeyError, TypeError, AttributeError) as exc:
            msg = f"malformed chat.completion.chunk from upstream: {exc!r}"
            raise ProviderError(ErrorKind.TRANSIENT, msg) from exc
        return []

    def finish(self) -> list[StreamEvent]:
        """The end, as the translated path would report it."""
        return [self.result()]

    def result(self) -> StreamEnd:
        """Finish reason and usage; a stream that gave no finish reason failed."""
        if self.finish_reason is None:
            msg = "upstream stream ended without a finish_reason"
            raise ProviderError(ErrorKind.TRANSIENT, msg)
        return StreamEnd(self.finish_reason, self.usage)

    def _learn(self, chunk: dict[str, Any]) -> None:
        usage = chunk.get("usage")
        choices = chunk.get("choices")
        if usage:
            self.usage = parse_usage(usage)
        for choice in choices or ():
            reason = choice.get("finish_reason")
            if reason and choice.get("index", 0) == 0:
                self.finish_reason = FINISH_REASONS.get(reason, "stop")
        self.usage_only = bool(usage) and not choices


class Learner(Protocol):
    """A ``Decoder`` fed only the notable frames: what it yields ends with ``StreamEnd``."""

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        """Learn from one parsed frame."""
        ...

    def finish(self) -> list[StreamEvent]:
        """The end at the end of the body (raises if the stream was cut short)."""
        ...


class SseRelay:
    """Relays an SSE stream, edited as the module says; a format fills in three hooks."""

    def __init__(self, edit: RelayEdit, frame: Frame) -> None:
        self._member = _MODEL_KEY + b":" + orjson.dumps(edit.model)
        self._template = self._member.replace(b"\\", b"\\\\")  # literal for re.sub
        upstream = edit.upstream_model
        renamed = upstream is not None and upstream != edit.model
        self._needle = _MODEL_KEY + b":" + orjson.dumps(upstream) if renamed else None
        self._edit_usage = not edit.include_usage
        self._frame = frame
        self._learner = self.learner()
        self._tail = b""
        self.end: StreamEnd | None = None
        self.error: ProviderError | None = None

    # What a format defines.

    def learner(self) -> Learner:
        """A fresh learner of finish reason and usage."""
        raise NotImplementedError

    def notable(self, frames: bytes) -> bool:
        """Whether ``frames`` may carry a finish reason, usage, an error or the end."""
        raise NotImplementedError

    def keep(self, raw: bytes) -> bytes:
        """A notable frame as the client gets it, once learnt from (perhaps nothing)."""
        return raw

    def edit(self, data: bytes) -> bytes:
        """Frames as the client gets them: tokenhub's model id in place of the upstream's."""
        if self._needle is not None:
            data = data.replace(self._needle, self._member)
        if data.count(_MODEL_KEY) != data.count(self._member):
            data = _MODEL_MEMBER.sub(self._template, data)  # spaced, escaped or renamed
        return data

    # The relay.

    def feed(self, chunk: bytes) -> bytes:
        """The client's bytes for every frame completed so far; ``b""`` ends the body."""
        if not chunk:
            return self._at_eof()
        buffer = self._tail + chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        cut = buffer.rfind(_BLANK)
        if cut < 0:
            self._tail = buffer
            return b""
        self._tail = buffer[cut + 2 :]
        return self.edit(self._relay(buffer[: cut + 2]))

    def _relay(self, block: bytes) -> bytes:
        head, rest = split_notable(block, self.notable)
        if not rest:
            return head
        out = [head]
        try:
            for frame in rest.split(_BLANK)[:-1]:
                out.append(self._pass(frame))
                if self.end is not None:
                    break
        except ProviderError as exc:
            self.error = exc
        return b"".join(out)

    def _pass(self, frame: bytes) -> bytes:
        """One frame as the client gets it (perhaps nothing); learns what it carries."""
        raw = frame + _BLANK
        if not self.notable(raw):
            return raw
        sse = parse_event(frame)
        if sse is None:
            return raw
        events = self._frame(sse, self._learner)
        if events is None:  # the end marker ([DONE])
            self.end = _end_of(self._learner.finish())
        elif events and isinstance(events[-1], StreamEnd):
            self.end = events[-1]
        else:
            return self.keep(raw)
        return raw

    def _at_eof(self) -> bytes:
        """The body ended: an end all the same if the format allows it, else an error."""
        try:
            self.end = _end_of(self._learner.finish())
        except ProviderError as exc:
            self.error = exc
            return b""
        return self.closing()

    def closing(self) -> bytes:
        """What the client is sent when the body ended without its end marker."""
        return b""


def _end_of(events: list[StreamEvent]) -> StreamEnd:
    end = events[-1] if events else None
    if not isinstance(end, StreamEnd):
        msg = "upstream stream ended without its end"
        raise ProviderError(ErrorKind.TRANSIENT, msg)
    return end


class OpenAIRelay(SseRelay):
    """A ``chat.completion.chunk`` stream; usage the client did not ask for is removed."""

    def learner(self) -> UsageLearner:
        """Finish reason and usage."""
        return UsageLearner()

    def notable(self, frames: bytes) -> bool:
        """See the module function ``notable``."""
        return notable(frames)

    def keep(self, raw: bytes) -> bytes:
        """The usage-only chunk only if the client asked for it."""
        learner = self._learner
        if self._edit_usage and isinstance(learner, UsageLearner) and learner.usage_only:
            return b""
        return raw

    def edit(self, data: bytes) -> bytes:
        """The model renamed, and ``"usage":null`` members gone unless usage was asked for."""
        data = super().edit(data)
        return data.replace(_NULL_USAGE, b"") if self._edit_usage else data

    def closing(self) -> bytes:
        """``[DONE]``, which a body that ended after its finish reason left out."""
        return _DONE


class AnthropicRelay(SseRelay):
    """A Messages stream: every event (thinking, signatures, citations...) passes whole."""

    def learner(self) -> Learner:
        """The Anthropic stream decoder, fed only the message-level events."""
        return AnthropicStreamDecoder()

    def notable(self, frames: bytes) -> bool:
        """``message_start``, ``message_delta``, ``message_stop`` and ``error`` events.

        A false positive (the text ``"message_`` escaped inside content) costs one parse.
        """
        return b'"message_' in frames or b'"error"' in frames


RELAYS: dict[str, Callable[[RelayEdit, Frame], Relay]] = {
    "openai": OpenAIRelay,
    "anthropic": AnthropicRelay,
}
"""The wire formats a stream can be relayed in, by name (a client flavour's name)."""
