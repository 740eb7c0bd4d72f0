"""Streams relayed as the upstream sent them, when the client speaks the upstream's format.

An OpenAI-format client served by an OpenAI-format upstream (``openai``, ``vllm`` and any
vendor configured as ``openai``), or an Anthropic client served by an ``anthropic``
upstream, gets the upstream's own SSE frames, edited only where tokenhub must: the model
name, and usage an OpenAI client did not ask for (providers/passthrough.py). Every other
combination is translated (server/streaming.py). When the request log keeps bodies
(``request_log.log_bodies``) the relayed reply's text is read out of the frames for it.
``tokenhub_streams_total{path}`` counts the streams each way.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import Any

import orjson
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


def relayable(app: web.Application, opened: Opened, client_format: str) -> HttpStream | None:
    """The stream to relay as it came, or None to translate it; counts which."""
    handle = opened.handle
    relay = handle if isinstance(handle, HttpStream) and handle.can_relay(client_format) else None
    app[METRICS].streams.labels(TRANSLATED if relay is None else PASSTHROUGH).inc()
    return relay


def edit_for(opened: Opened, flavour: Flavour, body: dict[str, Any]) -> RelayEdit:
    """Tokenhub's model id in place of the upstream's; OpenAI usage only if the client asked."""
    start = opened.handle.first[0]
    upstream = start.model if isinstance(start, StreamStart) else None
    usage = flavour.name != "openai" or openai_wire.include_usage(body)
    return RelayEdit(opened.info.model.id, usage, upstream)


async def relay(
    response: web.StreamResponse,
    stream: HttpStream,
    edit: RelayEdit,
    summary: RequestSummary,
    started: float,
    text: list[str] | None = None,
) -> None:
    """Write the relayed stream, one send per upstream read; learn its usage.

    ``text`` collects the reply's text (for the request log) when given.
    """
    async with aclosing(stream.relay(edit)) as pieces:  # closed now even if the client left
        async for data, end in pieces:
            summary.chunks += data.count(b"data:")  # a frame per chunk: a cut stream's estimate
            if text is not None:
                text.extend(texts_of(data))
            if end is not None:
                summary.usage = end.usage
            await send(response, data, last=end is not None, summary=summary, started=started)


def texts_of(frames: bytes) -> list[str]:
    """The reply text in relayed SSE frames of either format (for the request log)."""
    out: list[str] = []
    for line in frames.split(b"\n"):
        if not line.startswith(b"data:") or line.endswith(b"[DONE]"):
            continue
        try:
            event = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            continue
        out.extend(_text_of(event))
    return out


def _text_of(event: Any) -> list[str]:
    if not isinstance(event, dict):
        return []
    delta = event.get("delta")
    if isinstance(delta, dict) and delta.get("type") == "text_delta":  # Anthropic
        return [str(delta.get("text") or "")]
    choices = event.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):  # OpenAI
        content = (choices[0].get("delta") or {}).get("content")
        return [content] if isinstance(content, str) else []
    return []
