"""The OpenAI Responses API (``/v1/responses``): one more wire flavour of the one pipeline.

A Responses request is decoded to the canonical request (providers/wire/responses_request.py)
and placed like a chat completion — the same router, policies, failover, budgets, metrics
and request log — so any provider serves it through its own adapter. The answer, or the
stream of canonical events, is rendered back as a ``response`` object or Responses SSE
events. With ``store`` (the default) the response is kept for ``previous_response_id``
and the retrieval endpoints (server/responses_store.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

from tokenhub.dispatch.executor import Opened
from tokenhub.errors import InvalidRequestError
from tokenhub.providers.wire import responses as responses_wire
from tokenhub.providers.wire.responses import Shell, echo_of, input_items, render_response
from tokenhub.providers.wire.responses_stream import StreamEncoder
from tokenhub.server import passthrough
from tokenhub.server.app_keys import CLOCK, GATEWAY, NEW_ID, TRACING
from tokenhub.server.budget import released_on_error
from tokenhub.server.consumer import answer, place, stream_out, with_warnings
from tokenhub.server.consumer_auth import API_KEY, allowed_models
from tokenhub.server.errors import json_response
from tokenhub.server.middleware import REQUEST_ID
from tokenhub.server.request_input import NO_POLICY, POLICY_FIELD, read_json
from tokenhub.server.request_log import RequestSummary
from tokenhub.server.responses_store import conversation, keep, key_scope
from tokenhub.server.routes import RouteTable
from tokenhub.server.streaming import Translator, translate
from tokenhub.store.response_store import StoredResponse
from tokenhub.types import (
    ChatRequest,
    ChatResponse,
    ClientBody,
    FieldNote,
    StreamEnd,
    StreamEvent,
)

ENDPOINT = "/v1/responses"
FORMAT = "responses"
"""The client format name: no upstream speaks it yet, so every call is translated."""


@dataclass(slots=True)
class Turn:
    """One Responses request as the store sees it: its id, owner and own input."""

    app: web.Application
    id: str
    key_id: str | None
    body: dict[str, Any] = field(default_factory=dict)

    async def decode(self, body: dict[str, Any], _headers: CIMultiDictProxy[str]) -> ChatRequest:
        """The canonical request: the stored conversation it continues, then its input."""
        self.body = body
        previous = body.get("previous_response_id")
        history: list[dict[str, Any]] = []
        if previous is not None:
            if not isinstance(previous, str):
                raise InvalidRequestError(
                    "Invalid type for 'previous_response_id': expected a string.",
                    param="previous_response_id",
                )
            history = await conversation(self.app, previous, self.key_id)
        chat = responses_wire.parse_request(body, history)
        client = {key: value for key, value in body.items() if key != POLICY_FIELD}
        chat.source = ClientBody(FORMAT, client)
        return chat

    def keep(self, response: dict[str, Any]) -> None:
        """Store the final ``response`` unless the request said ``store: false``."""
        if self.body.get("store") is False:
            return
        shell = Shell(self.id, 0, "", {})
        stored = StoredResponse(
            self.id,
            self.key_id,
            float(response["created_at"]),
            self.body.get("previous_response_id"),
            input_items(self.body.get("input"), shell),
            response,
        )
        keep(self.app, stored)


async def create_response(request: web.Request) -> web.StreamResponse:
    """OpenAI Responses API (``responses.create``/``stream``/``parse``), routed by tokenhub.

    ``model`` is a model id, an alias or a routing target, as on chat completions; the
    ``tokenhub`` body field and ``X-Tokenhub-*`` headers carry policy hints.
    """
    summary = RequestSummary(request[REQUEST_ID], ENDPOINT, key=request.get(API_KEY))
    tracing = request.app[TRACING]
    with (
        tracing.request("tokenhub.request", request.headers, endpoint=ENDPOINT),
        released_on_error(request.app, summary),
    ):
        return await _create(request, summary)


async def _create(request: web.Request, summary: RequestSummary) -> web.StreamResponse:
    started = time.perf_counter()
    turn = Turn(request.app, "resp_" + request.app[NEW_ID](), key_scope(request))
    placed = await place(request, summary, started, turn.decode)
    echo = echo_of(placed.body)
    if placed.opened is not None:
        encoder = StreamEncoder(turn.id, echo)
        stored = _Storing(encoder, turn.keep)
        return await _stream(request, placed.opened, summary, started, stored)
    assert placed.done is not None

    def render(response: ChatResponse) -> tuple[dict[str, Any], list[FieldNote]]:
        shell = Shell(turn.id, response.created, response.model, echo)
        notes = list(response.notes)
        rendered = render_response(response, shell, notes)
        turn.keep(rendered)  # queued before the answer is sent: read after write
        return with_warnings(dict(rendered), notes), notes

    return answer(request, summary, started, placed.done, render)


@dataclass(slots=True)
class _Storing:
    """The stream encoder, storing the final response before its last event is sent."""

    encoder: StreamEncoder
    store: Callable[[dict[str, Any]], None]
    notes: list[FieldNote] = field(init=False)
    """The encoder's own list: what the stream could not carry."""

    def __post_init__(self) -> None:
        self.notes = self.encoder.notes

    def encode(self, event: StreamEvent) -> bytes:
        """The encoder's bytes; the final response is stored as the end is encoded."""
        data = self.encoder.encode(event)
        if isinstance(event, StreamEnd) and self.encoder.response is not None:
            self.store(self.encoder.response)
        return data


async def _stream(
    request: web.Request,
    opened: Opened,
    summary: RequestSummary,
    started: float,
    encoder: _Storing,
) -> web.StreamResponse:
    async def write(response: web.StreamResponse, text: list[str]) -> None:
        passthrough.relayable(request.app, opened, FORMAT)  # counts the stream translated
        keep = text if summary.body is not None else None
        now = int(request.app[CLOCK].time())
        translator = Translator(encoder, opened.info.model.id, now, summary, keep)
        await translate(response, translator, opened, started)

    failed = encoder.encoder.failed
    return await stream_out(request, opened, summary, started, write, failed)


async def count_input_tokens(request: web.Request) -> web.Response:
    """``{"object": "response.input_tokens", "input_tokens": N}``: the routing estimate.

    N is tokenhub's own estimate of the prompt (the one routing uses, which errs high),
    stored conversation included; no provider is called. ``model`` defaults to ``auto``.
    """
    body = await read_json(request)
    body.setdefault("model", "auto")
    turn = Turn(request.app, "", key_scope(request))
    chat = await turn.decode(body, request.headers)
    route = request.app[GATEWAY].route_request(
        chat, NO_POLICY, allowed_models=allowed_models(request.get(API_KEY))
    )
    count = {"object": "response.input_tokens", "input_tokens": route.input_tokens}
    return json_response(200, count)


def add_routes(routes: RouteTable) -> None:
    """Declare the Responses API routes."""
    routes.add("POST", ENDPOINT, create_response, tag="consumer", auth="apiKey")
    routes.add(
        "POST", f"{ENDPOINT}/input_tokens", count_input_tokens, tag="consumer", auth="apiKey"
    )
