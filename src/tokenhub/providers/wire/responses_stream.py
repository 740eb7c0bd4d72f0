"""Canonical stream events as the Responses API's SSE events, each with its ``sequence_number``.

The sequence is OpenAI's: ``response.created`` and ``response.in_progress`` (from
:class:`StreamStart`); for each output item ``response.output_item.added``, its content
events, ``response.output_item.done``; then ``response.completed`` (or
``response.incomplete`` when the answer was cut by ``max_output_tokens`` or a content
filter) carrying the whole response. Text is a ``message`` item with one ``output_text``
part (``content_part.added``, ``output_text.delta``/``.done``, ``content_part.done``);
thinking is a ``reasoning`` item whose text streams as summary events
(``reasoning_summary_part.added``, ``reasoning_summary_text.delta``/``.done``,
``reasoning_summary_part.done``) and whose seal ends as ``encrypted_content``; a tool call
is a ``function_call`` item (``function_call_arguments.delta``/``.done``). An item is
done when the next begins. :meth:`StreamEncoder.failed` renders ``response.failed``.
What the upstream's stream held that the canonical events do not carry (``StreamEnd.notes``)
is written at the end, where headers can no longer go: as SSE comments
(``: tokenhub-warning ...``) and a ``tokenhub`` member of the final event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from tokenhub.providers.wire._common import warning_comments, warnings_member
from tokenhub.providers.wire.responses import (
    Shell,
    call_item,
    message_item,
    output_text,
    reasoning_item,
    render_error,
    status_of,
)
from tokenhub.providers.wire.responses_input import REDACTED_PREFIX
from tokenhub.types import (
    FieldNote,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
)


@dataclass(slots=True)
class _Open:
    """The output item being written: its index, kind, and the text gathered so far."""

    index: int
    kind: str
    pieces: list[str] = field(default_factory=list)
    payload: str | None = None
    """A reasoning item's seal (``encrypted_content``); once set, the item is complete."""


class StreamEncoder:
    """Renders canonical events as Responses SSE events; ``response`` is the final object.

    ``response_id`` and ``echo`` (the request parameters the response repeats) are known
    before the stream starts; the model and time come with :class:`StreamStart`.
    """

    def __init__(self, response_id: str, echo: dict[str, Any]) -> None:
        self._shell = Shell(response_id, 0, "", echo)
        self._seq = 0
        self._output: list[dict[str, Any]] = []
        self._open: _Open | None = None
        self._calls: dict[int, int] = {}
        self.response: dict[str, Any] | None = None
        """The last ``response`` object sent (completed, incomplete or failed)."""
        self.notes: list[FieldNote] = []
        """What the upstream's stream held that the canonical events do not carry."""

    def encode(self, event: StreamEvent) -> bytes:
        """The SSE bytes for one canonical event (several events for most)."""
        if isinstance(event, TextDelta):
            return self._text(event.text)
        if isinstance(event, ToolCallDelta):
            return self._arguments(event)
        if isinstance(event, ToolCallStart):
            return self._call(event)
        if isinstance(event, ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, StreamStart):
            return self._start(event)
        return self._end(event)

    def failed(self, error_type: str, message: str) -> bytes:
        """``response.failed`` with the error, and the output as far as it came."""
        error = render_error(error_type, message)
        self.response = self._shell.response("failed", self._output, error=error)
        return self._event("response.failed", response=self.response)

    def _start(self, event: StreamStart) -> bytes:
        shell = self._shell
        self._shell = Shell(shell.id, event.created, event.model, shell.echo)
        created = self._shell.response("in_progress", [])
        return self._event("response.created", response=created) + self._event(
            "response.in_progress", response=created
        )

    def _end(self, event: StreamEnd) -> bytes:
        """Close the last item; the final event, after any warnings (headers are gone)."""
        status, incomplete = status_of(event.finish_reason)
        out = self._close("completed" if incomplete is None else "incomplete")
        self.response = self._shell.response(
            status, self._output, event.usage, incomplete=incomplete
        )
        self.notes.extend(event.notes)
        kind = "response.completed" if incomplete is None else "response.incomplete"
        final = self._event(kind, response=self.response, **warnings_member(self.notes))
        return out + warning_comments(self.notes) + final

    # Items.

    def _begin(self, kind: str, item: dict[str, Any]) -> bytes:
        """Close the open item, then add ``item`` as the open one."""
        out = self._close("completed")
        index = len(self._output)
        self._output.append(item)
        self._open = _Open(index, kind)
        return out + self._event("response.output_item.added", output_index=index, item=item)

    def _close(self, status: str) -> bytes:
        """Finish the open item: its done events, then ``output_item.done``."""
        open_, self._open = self._open, None
        if open_ is None:
            return b""
        item = self._output[open_.index] = dict(self._output[open_.index])
        if "status" in item:
            item["status"] = status
        where = {"item_id": item["id"], "output_index": open_.index}
        out = _CLOSERS[open_.kind](self, open_, item, where)
        return out + self._event("response.output_item.done", output_index=open_.index, item=item)

    def _text(self, text: str) -> bytes:
        out = b""
        if self._open is None or self._open.kind != "message":
            item = message_item(self._item_id("msg"), [], "in_progress")
            out = self._begin("message", item)
            where = self._where()
            out += self._event("response.content_part.added", **where, part=output_text(""))
        assert self._open is not None
        self._open.pieces.append(text)
        delta = self._event("response.output_text.delta", **self._where(), delta=text, logprobs=[])
        return out + delta

    def _thinking(self, event: ThinkingDelta) -> bytes:
        out = b""
        open_ = self._open
        if open_ is None or open_.kind != "reasoning" or open_.payload is not None:
            out = self._begin("reasoning", reasoning_item(self._item_id("rs"), "", None))
        open_ = self._open
        assert open_ is not None
        if event.text:
            if not open_.pieces:
                part = {"type": "summary_text", "text": ""}
                out += self._event(
                    "response.reasoning_summary_part.added", **self._where(), part=part
                )
            open_.pieces.append(event.text)
            out += self._event(
                "response.reasoning_summary_text.delta", **self._where(), delta=event.text
            )
        if event.redacted is not None:
            open_.payload = REDACTED_PREFIX + event.redacted
        elif event.signature is not None:
            open_.payload = event.signature
        return out

    def _call(self, event: ToolCallStart) -> bytes:
        item = call_item(self._item_id("fc"), ToolCall(event.id, event.name, ""), "in_progress")
        out = self._begin("function_call", item)
        self._calls[event.index] = len(self._output) - 1
        return out

    def _arguments(self, event: ToolCallDelta) -> bytes:
        index = self._calls.get(event.index)
        if index is None:
            return b""  # no start for this call: the decoders always send one first
        item = self._output[index] = dict(self._output[index])
        item["arguments"] += event.arguments
        where = {"item_id": item["id"], "output_index": index}
        return self._event("response.function_call_arguments.delta", **where, delta=event.arguments)

    def _done_message(self, open_: _Open, item: dict[str, Any], where: dict[str, Any]) -> bytes:
        text = "".join(open_.pieces)
        part = output_text(text)
        item["content"] = [part]
        done = self._event(
            "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
        )
        return done + self._event("response.content_part.done", **where, content_index=0, part=part)

    def _done_reasoning(self, open_: _Open, item: dict[str, Any], where: dict[str, Any]) -> bytes:
        text = "".join(open_.pieces)
        item.update(reasoning_item(item["id"], text, open_.payload))
        if not text:
            return b""
        part = {"type": "summary_text", "text": text}
        done = self._event(
            "response.reasoning_summary_text.done", **where, summary_index=0, text=text
        )
        return done + self._event(
            "response.reasoning_summary_part.done", **where, summary_index=0, part=part
        )

    def _done_call(self, _open: _Open, item: dict[str, Any], where: dict[str, Any]) -> bytes:
        arguments = item["arguments"]
        return self._event("response.function_call_arguments.done", **where, arguments=arguments)

    # Framing.

    def _item_id(self, prefix: str) -> str:
        return self._shell.item_id(prefix, len(self._output))

    def _where(self) -> dict[str, Any]:
        """The open item's address; text and summary parts are always the first (0)."""
        assert self._open is not None
        index = self._open.index
        where: dict[str, Any] = {"item_id": self._output[index]["id"], "output_index": index}
        where["summary_index" if self._open.kind == "reasoning" else "content_index"] = 0
        return where

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, **fields, "sequence_number": self._seq}
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


_CLOSERS = {
    "message": StreamEncoder._done_message,  # noqa: SLF001 - the class's own table
    "reasoning": StreamEncoder._done_reasoning,  # noqa: SLF001 - the class's own table
    "function_call": StreamEncoder._done_call,  # noqa: SLF001 - the class's own table
}
