"""Writing a stream to the client: one send per network read, whatever the path.

A stream is primed (its first events read) before its response starts, so the response
can send its headers together with those first bytes. After that, everything one upstream
read brought goes out in one write, and the write that carries the end also ends the
chunked body. Nothing waits for more than is already there: time to first token and the
pace of tokens stay the upstream's.

Streams are written one of two ways: relayed as the upstream sent them
(server/passthrough.py), or translated here, a batch of canonical events at a time.
"""

from __future__ import annotations

import time
from contextlib import aclosing
from dataclasses import dataclass, replace

from aiohttp import web

from tokenhub.dispatch.executor import Opened
from tokenhub.server.request_log import RequestSummary
from tokenhub.server.wire_flavours import Encoder
from tokenhub.types import (
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)


class CoalescedStreamResponse(web.StreamResponse):
    """A stream response whose headers go out with its first bytes: one send, not two."""

    _send_headers_immediately = False  # aiohttp's own switch, off for web.Response too


async def send(
    response: web.StreamResponse,
    data: bytes,
    *,
    last: bool,
    summary: RequestSummary,
    started: float,
) -> None:
    """Write ``data`` in one send (ending the body if ``last``); note the first token's time."""
    if last:
        await response.write_eof(data)
    else:
        await response.write(data)
    if summary.ttft_s is None:
        summary.ttft_s = time.perf_counter() - started


@dataclass(slots=True)
class Translator:
    """Re-encodes canonical events in the client's format, a batch at a time."""

    encoder: Encoder
    model: str
    """Tokenhub's model id, which the client sees in place of the upstream's name."""
    now: int
    summary: RequestSummary
    text: list[str] | None = None
    """Collects the reply's text when the request log keeps bodies."""

    def encode(self, batch: list[StreamEvent]) -> tuple[bytes, bool]:
        """The SSE bytes of ``batch``, and whether it ended the stream."""
        out: list[bytes] = []
        ended = False
        for event in batch:
            if isinstance(event, StreamStart):
                event = replace(event, model=self.model, created=event.created or self.now)  # noqa: PLW2901 - each event is replaced by its stamped copy before it is sent
            elif isinstance(event, StreamEnd):
                self.summary.usage = event.usage
                ended = True
            elif isinstance(event, TextDelta):
                self.summary.chunks += 1
                if self.text is not None:
                    self.text.append(event.text)
            elif isinstance(event, ToolCallStart | ToolCallDelta | ThinkingDelta):
                self.summary.chunks += 1
            out.append(self.encoder.encode(event))
        if ended:
            self.summary.notes.extend(self.encoder.notes)  # complete once the end is encoded
        return b"".join(out), ended


async def translate(
    response: web.StreamResponse, translator: Translator, opened: Opened, started: float
) -> None:
    """Write every batch of ``opened``, translated, one send each."""
    summary = translator.summary
    async with aclosing(opened.handle.batches()) as batches:  # closed now even on error
        async for batch in batches:
            data, last = translator.encode(batch)
            await send(response, data, last=last, summary=summary, started=started)


def cut_usage(opened: Opened, summary: RequestSummary) -> Usage:
    """What a stream the client cut short used: the upstream's count, else an estimate.

    The upstream's usage comes with the stream's end, so a cut stream seldom has it. Then
    input is the count the start event gave (Anthropic sends it first), else the router's
    estimate (which errs high); output is one token per content chunk brought so far, the
    shape of OpenAI-format streams (an upstream that batches tokens is undercounted).
    """
    if summary.usage.input_tokens or summary.usage.output_tokens:
        return summary.usage
    start = opened.handle.first[0] if opened.handle.first else None
    counted = start.input_tokens if isinstance(start, StreamStart) else 0
    return Usage(counted or opened.info.decision.input_tokens, summary.chunks)
