"""Passthrough: an upstream's own SSE bytes, relayed to a client that speaks its format.

Translating an OpenAI stream for an OpenAI client decodes and re-encodes every chunk to
produce what the upstream already sent. A relay forwards whole frames as they arrived
(everything one network read completed) and changes only what tokenhub must:

- **The model name.** Every ``"model": "<string>"`` member shows tokenhub's model id. It
  cannot hit content: a quote inside a JSON string is always escaped, so a quote right
  after ``model`` closes a string, and a colon after that makes it an object key; content
  that mentions ``"model":"x"`` travels with each of those quotes escaped. The only
  ``model`` key of a ``chat.completion.chunk`` is the envelope's.
- **Usage.** Tokenhub always asks the upstream for ``stream_options.include_usage``; when
  the client did not, the usage-only chunk (``choices: []``) and the ``,"usage":null``
  members on the other chunks are dropped, as OpenAI would not have sent them.
- **What tokenhub learns.** Only frames that may carry a finish reason, usage, an error or
  ``[DONE]`` are parsed (``notable``), each through the adapter's own ``frame``: an
  in-stream error is classified and scrubbed of the credential as on the translated path,
  and a stream that ends without a finish reason is an error there as here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.http import parse_event
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


def split_notable(block: bytes) -> tuple[bytes, bytes]:
    """Whole frames as a head that needs no look and the frames after it that may.

    The frames that matter end a stream, so they are found walking back from the end; a
    head that still holds one (say, a finish reason followed by plain frames) is looked
    into whole.
    """
    cut = len(block)
    while cut:
        start = block.rfind(_BLANK, 0, cut - 2)
        start = 0 if start < 0 else start + 2
        if not notable(block[start:cut]):
            if start and notable(block[:start]):
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


class OpenAIRelay:
    """Relays a ``chat.completion.chunk`` stream, edited as the module says."""

    def __init__(self, edit: RelayEdit, frame: Frame) -> None:
        self._member = _MODEL_KEY + b":" + orjson.dumps(edit.model)
        self._template = self._member.replace(b"\\", b"\\\\")  # literal for re.sub
        upstream = edit.upstream_model
        renamed = upstream is not None and upstream != edit.model
        self._needle = _MODEL_KEY + b":" + orjson.dumps(upstream) if renamed else None
        self._include_usage = edit.include_usage
        self._frame = frame
        self._learner = UsageLearner()
        self._tail = b""
        self.end: StreamEnd | None = None
        self.error: ProviderError | None = None

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
        return self._edit(self._relay(buffer[: cut + 2]))

    def _relay(self, block: bytes) -> bytes:
        head, rest = split_notable(block)
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
        if not notable(raw):
            return raw
        sse = parse_event(frame)
        if sse is None:
            return raw
        if self._frame(sse, self._learner) is None:  # [DONE]
            self.end = self._learner.result()
        elif self._learner.usage_only and not self._include_usage:
            return b""
        return raw

    def _at_eof(self) -> bytes:
        """The body ended without ``[DONE]``: an end all the same after a finish reason."""
        try:
            self.end = self._learner.result()
        except ProviderError as exc:
            self.error = exc
            return b""
        return _DONE

    def _edit(self, data: bytes) -> bytes:
        if self._needle is not None:
            data = data.replace(self._needle, self._member)
        if data.count(_MODEL_KEY) != data.count(self._member):
            data = _MODEL_MEMBER.sub(self._template, data)  # spaced, escaped or renamed
        return data if self._include_usage else data.replace(_NULL_USAGE, b"")


RELAYS: dict[str, Callable[[RelayEdit, Frame], Relay]] = {"openai": OpenAIRelay}
"""The wire formats a stream can be relayed in, by name (a client flavour's name)."""
