"""Each client API's wire flavour: its request decoder, response and stream encoders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from multidict import CIMultiDictProxy

from tokenhub.providers.wire import anthropic as anthropic_wire
from tokenhub.providers.wire import openai as openai_wire
from tokenhub.server.request_input import POLICY_FIELD
from tokenhub.types import ChatRequest, ChatResponse, ClientBody, FieldNote, StreamEvent


class Encoder(Protocol):
    """Renders canonical stream events as SSE bytes."""

    notes: list[FieldNote]
    """What the stream could not carry: complete once the end is encoded."""

    def encode(self, event: StreamEvent) -> bytes:
        """SSE bytes for one event."""
        ...


@dataclass(frozen=True, slots=True)
class Flavour:
    """How one client API parses, renders and streams."""

    name: str
    endpoint: str
    parse: Callable[[dict[str, Any]], ChatRequest]
    render: Callable[[ChatResponse, list[FieldNote]], dict[str, Any]]
    """The answer in this format; what it cannot carry is added to the list."""
    encoder: Callable[[dict[str, Any]], Encoder]
    stream_error: Callable[[str, str], bytes]
    vendor_headers: tuple[str, ...]
    """The client's API headers an upstream of the same format is sent (never credentials)."""

    async def decode(self, body: dict[str, Any], headers: CIMultiDictProxy[str]) -> ChatRequest:
        """The canonical request, carrying the client's own body (see ``client_body``)."""
        chat = self.parse(body)
        chat.source = self.client_body(body, headers)
        return chat

    def client_body(self, body: dict[str, Any], headers: CIMultiDictProxy[str]) -> ClientBody:
        """The request as the client sent it: its body (less ``tokenhub``), vendor headers.

        A header sent several times is joined with commas, as HTTP allows.
        """
        if POLICY_FIELD in body:
            body = {key: value for key, value in body.items() if key != POLICY_FIELD}
        vendor = {
            name: ",".join(values)
            for name in self.vendor_headers
            if (values := headers.getall(name, ()))
        }
        return ClientBody(self.name, body, vendor)


def _openai_encoder(body: dict[str, Any]) -> Encoder:
    return openai_wire.StreamEncoder(include_usage=openai_wire.include_usage(body))


def _anthropic_encoder(_body: dict[str, Any]) -> Encoder:
    return anthropic_wire.StreamEncoder()


def _openai_stream_error(error_type: str, message: str) -> bytes:
    body = openai_wire.render_error(error_type, message, code=error_type)
    return b"data: " + orjson.dumps(body) + b"\n\n"


def _anthropic_stream_error(error_type: str, message: str) -> bytes:
    body = anthropic_wire.render_error(error_type, message)
    return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"


OPENAI = Flavour(
    "openai",
    "/v1/chat/completions",
    openai_wire.parse_request,
    openai_wire.render_response,
    _openai_encoder,
    _openai_stream_error,
    ("openai-beta",),
)
ANTHROPIC = Flavour(
    "anthropic",
    "/v1/messages",
    anthropic_wire.parse_request,
    anthropic_wire.render_response,
    _anthropic_encoder,
    _anthropic_stream_error,
    ("anthropic-version", "anthropic-beta"),
)
