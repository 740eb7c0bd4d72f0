"""The consumer API: OpenAI Chat Completions and Anthropic Messages, routed by tokenhub."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

from tokenhub.dispatch.cost import cost_of
from tokenhub.dispatch.executor import Attempted, Completed, Opened
from tokenhub.errors import (
    AllProvidersFailedError,
    ErrorKind,
    InvalidRequestError,
    ProviderError,
    TokenhubError,
)
from tokenhub.server import passthrough
from tokenhub.server.app_keys import CLOCK, GATEWAY, SETTINGS, TRACING
from tokenhub.server.budget import expect_cost, hold_budget, released_on_error
from tokenhub.server.consumer_auth import API_KEY, allowed_models
from tokenhub.server.decision_headers import decision_headers, warnings_header
from tokenhub.server.errors import json_response
from tokenhub.server.middleware import (
    CLIENT_CLOSED,
    REQUEST_ID,
    REQUEST_ID_HEADER,
    client_gone,
    client_left,
)
from tokenhub.server.request_input import POLICY_FIELD, read_json, read_policy, refuse_redirects
from tokenhub.server.request_log import (
    RequestSummary,
    add_response,
    capture_body,
    log_request,
)
from tokenhub.server.routes import RouteTable
from tokenhub.server.streaming import CoalescedStreamResponse, Translator, cut_usage, translate
from tokenhub.server.wire_flavours import ANTHROPIC, OPENAI, Flavour
from tokenhub.types import ChatRequest, ChatResponse, FieldNote


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """OpenAI-compatible chat completions, streaming or not, routed by tokenhub.

    ``model`` is a model id, an alias, or a routing target (``auto``, ``tokenhub/<mode>``).
    Policy hints go in the body field ``tokenhub`` or ``X-Tokenhub-*`` headers.
    """
    return await serve(request, OPENAI)


async def messages(request: web.Request) -> web.StreamResponse:
    """Anthropic-compatible messages, streaming or not, routed to any provider."""
    return await serve(request, ANTHROPIC)


async def serve(request: web.Request, flavour: Flavour) -> web.StreamResponse:
    """Parse, route, execute and render one request in ``flavour``'s wire format."""
    summary = RequestSummary(request[REQUEST_ID], flavour.endpoint, key=request.get(API_KEY))
    tracing = request.app[TRACING]
    with (
        tracing.request("tokenhub.request", request.headers, endpoint=flavour.endpoint),
        released_on_error(request.app, summary),
    ):
        return await _serve(request, flavour, summary)


async def _serve(
    request: web.Request, flavour: Flavour, summary: RequestSummary
) -> web.StreamResponse:
    started = time.perf_counter()
    placed = await place(request, summary, started, flavour.decode)
    if placed.opened is not None:  # the stream logs its own ending, whatever it is
        return await _stream(request, flavour, placed.body, placed.opened, summary, started)
    assert placed.done is not None
    return answer(request, summary, started, placed.done, partial(_rendered, flavour))


def answer(
    request: web.Request,
    summary: RequestSummary,
    started: float,
    done: Completed,
    render: Render,
) -> web.Response:
    """The JSON answer to a completed call (``render``'s), with its headers and its log."""
    response = done.response
    response.model = done.info.model.id
    response.created = response.created or int(request.app[CLOCK].time())
    summary.info, summary.usage, summary.cost_usd = done.info, response.usage, done.cost_usd
    summary.latency_ms = (time.perf_counter() - started) * 1000
    rendered, notes = render(response)
    add_response(request.app, summary, rendered)
    # The bookkeeping runs right after the answer is written (the next turn of the event
    # loop, before any later request's handler), so the client does not wait for it.
    asyncio.get_running_loop().call_soon(log_request, request.app, summary)
    headers = decision_headers(summary.request_id, done.info, done.cost_usd)
    headers.update(warnings_header(notes))
    return json_response(200, rendered, headers)


Render = Callable[[ChatResponse], tuple[dict[str, Any], list[FieldNote]]]
"""An answer in the client's format, and what of the request and answer it could not carry."""


@dataclass(slots=True)
class Placed:
    """A routed call made: the client's body, its canonical form, and the stream or answer."""

    body: dict[str, Any]
    chat: ChatRequest
    opened: Opened | None = None
    done: Completed | None = None


Decode = Callable[[dict[str, Any], CIMultiDictProxy[str]], Awaitable[ChatRequest]]
"""A client API's body (and headers) to the canonical request (it may read the store)."""


async def place(
    request: web.Request, summary: RequestSummary, started: float, decode: Decode
) -> Placed:
    """Read, decode, route and call (opening the stream when asked): the one pipeline.

    A failure on the way is logged and raised as the error the client should see.
    """
    key = summary.key
    try:
        body = await read_json(request)
        refuse_redirects(await request.read(), body)  # the bytes read_json read, kept by aiohttp
        summary.body = capture_body(request.app, body)
        policy = read_policy(request, body)
        chat = await decode(body, request.headers)
        chat.strict = (
            policy.strict
            if policy.strict is not None
            else request.app[SETTINGS].settings.strict_fields
        )
        gateway = request.app[GATEWAY]
        route = gateway.route_request(chat, policy, allowed_models=allowed_models(key))
        summary.mode = route.mode
        hold_budget(request.app, summary, route)
        if chat.stream:
            return Placed(body, chat, opened=await gateway.open_stream(chat, route, {}))
        return Placed(body, chat, done=await gateway.complete(chat, route, {}))
    except ProviderError as exc:
        raise _record_failure(request, summary, started, _client_error(exc)) from None
    except TokenhubError as exc:
        raise _record_failure(request, summary, started, exc) from None
    except (ConnectionError, asyncio.CancelledError) as exc:
        record_cut_short(request, summary, started, exc)
        raise


def _rendered(flavour: Flavour, response: ChatResponse) -> tuple[dict[str, Any], list[FieldNote]]:
    """The upstream's own answer for a same-format client (model renamed), else translated.

    Returns the body and what could not be carried, of the request (noted when it was
    sent) and of the answer (noted as it is rendered); a translated body lists them in
    its ``tokenhub.warnings`` too.
    """
    notes = list(response.notes)
    if response.raw is not None:
        return {**response.raw, "model": response.model}, notes
    return with_warnings(flavour.render(response, notes), notes), notes


def with_warnings(rendered: dict[str, Any], notes: list[FieldNote]) -> dict[str, Any]:
    """``rendered``, with what could not be carried listed in its ``tokenhub.warnings``."""
    if notes:
        rendered[POLICY_FIELD] = {"warnings": [str(note) for note in notes]}
    return rendered


def _streamed(text: list[str], opened: Opened, summary: RequestSummary) -> dict[str, Any]:
    """What the request log keeps of a streamed answer: its text and what was not carried."""
    kept: dict[str, Any] = {"text": "".join(text)}
    notes = [*opened.handle.notes, *summary.notes]
    if notes:
        kept["warnings"] = [str(note) for note in notes]
    return kept


def _client_error(exc: ProviderError) -> TokenhubError:
    """A fatal upstream error is the client's own bad request: answer 400 with its message."""
    if exc.kind is ErrorKind.FATAL:
        return InvalidRequestError(f"the provider rejected the request: {exc.message}")
    return exc


def _record_failure(
    request: web.Request, summary: RequestSummary, started: float, exc: TokenhubError
) -> TokenhubError:
    summary.status, summary.http_status, summary.error_type = "error", exc.status, exc.type
    if isinstance(exc, AllProvidersFailedError):
        summary.attempts = exc.attempts
    summary.latency_ms = (time.perf_counter() - started) * 1000
    log_request(request.app, summary)
    return exc


async def _stream(
    request: web.Request,
    flavour: Flavour,
    body: dict[str, Any],
    opened: Opened,
    summary: RequestSummary,
    started: float,
) -> web.StreamResponse:
    async def write(response: web.StreamResponse, text: list[str]) -> None:
        await _write(request, response, flavour, body, opened, summary, started, text)

    return await stream_out(request, opened, summary, started, write, flavour.stream_error)


StreamWriter = Callable[[web.StreamResponse, list[str]], Awaitable[None]]
"""Writes a stream's events to the prepared response, collecting the reply's text."""


async def stream_out(
    request: web.Request,
    opened: Opened,
    summary: RequestSummary,
    started: float,
    write: StreamWriter,
    stream_error: Callable[[str, str], bytes],
) -> web.StreamResponse:
    """Answer with a stream: headers, ``write``'s events, and the logging of its end.

    An upstream failure after the first event ends the stream with ``stream_error``'s
    bytes (the client API's error event); a client that leaves is logged as such.
    """
    info = opened.info
    summary.info = info
    expect_cost(request.app, summary, info.estimated_cost_usd)
    headers = decision_headers(summary.request_id, info, info.estimated_cost_usd, estimated=True)
    headers.update(warnings_header(opened.handle.notes))
    headers[REQUEST_ID_HEADER] = summary.request_id  # the middleware cannot add it once sent
    response = CoalescedStreamResponse(
        headers={**headers, "Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    text: list[str] = []
    try:
        await response.prepare(request)
        await write(response, text)
    except ProviderError as exc:
        mid_stream_failure(request, summary, opened, exc)
        await response.write_eof(stream_error(exc.type, exc.message))
    except (ConnectionError, asyncio.CancelledError) as exc:
        ended_early(request, summary, exc)
        summary.usage = cut_usage(opened, summary)
        raise
    finally:
        await opened.handle.aclose()  # a cut stream's upstream connection is closed, not read
        add_response(request.app, summary, _streamed(text, opened, summary))
        summary.cost_usd = _cost(info, summary)
        summary.latency_ms = (time.perf_counter() - started) * 1000
        log_request(request.app, summary)
    await response.write_eof()
    return response


async def _write(
    request: web.Request,
    response: web.StreamResponse,
    flavour: Flavour,
    body: dict[str, Any],
    opened: Opened,
    summary: RequestSummary,
    started: float,
    text: list[str],
) -> None:
    """Relay the stream when the client speaks the upstream's format, else translate it."""
    relayed = passthrough.relayable(request.app, opened, flavour.name)
    keep = text if summary.body is not None else None
    if relayed is not None:
        edit = passthrough.edit_for(opened, flavour, body)
        await passthrough.relay(response, relayed, edit, summary, started, keep)
        return
    now = int(request.app[CLOCK].time())
    translator = Translator(flavour.encoder(body), opened.info.model.id, now, summary, keep)
    await translate(response, translator, opened, started)


def mid_stream_failure(
    request: web.Request, summary: RequestSummary, opened: Opened, exc: ProviderError
) -> None:
    """Judge the upstream by a failure met mid-stream, and mark the request an error."""
    info = opened.info
    request.app[GATEWAY].health.failure(
        info.provider.id,
        info.model.id,
        exc.kind,
        exc.message,
        exc.retry_after,
        timed_out=isinstance(exc.__cause__, TimeoutError),  # a stream gone silent hung
    )
    summary.status, summary.error_type = "error", exc.type


def ended_early(request: web.Request, summary: RequestSummary, exc: BaseException) -> None:
    """Mark a request whose handler was cut short by ``exc`` (a cancel or a lost connection).

    A client that left is ``client_closed`` (HTTP 499 in the logs and metrics). Otherwise a
    cancellation is the daemon's own (a shutdown past its grace: ``cancelled``, 503) and a
    connection error is a fault (``internal_error``, 500, as the middleware answers it).
    """
    cancelled = isinstance(exc, asyncio.CancelledError)
    if client_left(request) if cancelled else client_gone(request):
        outcome = ("client_closed", CLIENT_CLOSED, "client_closed")
    elif cancelled:
        outcome = ("error", 503, "cancelled")
    else:
        outcome = ("error", 500, "internal_error")
    summary.status, summary.http_status, summary.error_type = outcome


def record_cut_short(
    request: web.Request, summary: RequestSummary, started: float, exc: BaseException
) -> None:
    """Log a request cut short before its answer: while its body was read or its call made.

    A cancelled upstream call is charged nothing: the executor does not say which model it
    was calling, and the upstream's usage never came.
    """
    ended_early(request, summary, exc)
    summary.latency_ms = (time.perf_counter() - started) * 1000
    log_request(request.app, summary)


def _cost(info: Attempted, summary: RequestSummary) -> float:
    return cost_of(info.model, summary.usage)


def add_routes(routes: RouteTable) -> None:
    """Declare the consumer routes."""
    routes.add("POST", "/v1/chat/completions", chat_completions, tag="consumer", auth="apiKey")
    routes.add("POST", "/v1/messages", messages, tag="consumer", auth="apiKey")
