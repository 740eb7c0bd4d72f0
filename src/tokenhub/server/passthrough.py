"""Streams relayed as the upstream sent them, when the client speaks the upstream's format.

An OpenAI-format client served by an OpenAI-format upstream (``openai``, ``vllm`` and any
vendor configured as ``openai``) gets the upstream's own SSE frames, edited only where
tokenhub must: the model name, and usage the client did not ask for
(providers/passthrough.py). Every other combination is translated (server/streaming.py),
and so is any stream whose reply goes into the request log (``request_log.log_bodies``),
since its text has to be decoded anyway. ``tokenhub_streams_total{path}`` counts the
streams each way.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

from aiohttp import web

from tokenhub.dispatch.executor import Opened
from tokenhub.providers.passthrough import RelayEdit
from tokenhub.providers.stream import HttpStream
from tokenhub.providers.wire import openai as openai_wire
from tokenhub.server.app_keys import METRICS
from tokenhub.server.request_log import RequestSummary
from tokenhub.server.streaming import send
from tokenhub.server.wire_flavours import Flavour
from tokenhub.types import StreamStart

PASSTHROUGH = "passthrough"
TRANSLATED = "translated"


def relayable(
    app: web.Application, opened: Opened, flavour: Flavour, summary: RequestSummary
) -> HttpStream | None:
    """The stream to relay as it came, or None to translate it; counts which."""
    handle = opened.handle
    relay = (
        handle
        if summary.body is None
        and isinstance(handle, HttpStream)
        and handle.can_relay(flavour.name)
        else None
    )
    app[METRICS].streams.labels(TRANSLATED if relay is None else PASSTHROUGH).inc()
    return relay


def edit_for(opened: Opened, body: dict[str, Any]) -> RelayEdit:
    """Tokenhub's model id in place of the upstream's; usage only if the client asked."""
    start = opened.handle.first[0]
    upstream = start.model if isinstance(start, StreamStart) else None
    return RelayEdit(opened.info.model.id, openai_wire.include_usage(body), upstream)


async def relay(
    response: web.StreamResponse,
    stream: HttpStream,
    edit: RelayEdit,
    summary: RequestSummary,
    started: float,
) -> None:
    """Write the relayed stream, one send per upstream read; learn its usage."""
    async with aclosing(stream.relay(edit)) as pieces:  # closed now even if the client left
        async for data, end in pieces:
            summary.chunks += data.count(b"data:")  # a frame per chunk: a cut stream's estimate
            if end is not None:
                summary.usage = end.usage
            await send(response, data, last=end is not None, summary=summary, started=started)
