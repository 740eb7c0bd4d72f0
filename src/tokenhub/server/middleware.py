"""The request pipeline's one middleware: id, body limit, admission, errors, HTTP metrics.

One middleware rather than five: each aiohttp middleware adds a wrapper and a coroutine
frame to every request, and these always run together.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable

from aiohttp import web

from tokenhub.errors import PayloadTooLargeError, TokenhubError
from tokenhub.server.admission import admit
from tokenhub.server.app_keys import HANDLING, METRICS, NEW_ID, SETTINGS, STOPPING
from tokenhub.server.consumer_auth import CONSUMER_PREFIX
from tokenhub.server.errors import render_error, render_http_error, render_internal
from tokenhub.server.routes import Handler

log = logging.getLogger("tokenhub.server")
REQUEST_ID = web.RequestKey("request_id", str)
REQUEST_ID_HEADER = "X-Request-ID"
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CLIENT_CLOSED = 499
"""nginx's status for a request whose client left before the answer: logged, never sent."""


@web.middleware
async def core_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id, enforce the body limit, admit it, render errors, count it.

    A sane ``X-Request-ID`` from the client is kept, else one is made; it is echoed on
    every response. A declared body over ``max_body_bytes`` is refused before anything
    reads it (chunked bodies are capped by aiohttp's client_max_size, set to the same
    limit). Every failure becomes a JSON error body — never HTML, never a traceback. A
    client that leaves is no failure of ours: it is logged at info and counted as 499.
    """
    app = request.app
    given = request.headers.get(REQUEST_ID_HEADER)
    request_id = given if given and VALID_REQUEST_ID.match(given) else app[NEW_ID]()
    request[REQUEST_ID] = request_id
    metrics = app[METRICS]
    metrics.in_flight.inc()
    started = time.perf_counter()
    task = asyncio.current_task()
    handling = app[HANDLING]
    handling.add(task)
    try:
        response = await _handle(request, handler, request_id)
    finally:
        metrics.in_flight.dec()
        handling.discard(task)
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    metrics.count_http(route, request.method, response.status, time.perf_counter() - started)
    return response


async def _handle(request: web.Request, handler: Handler, request_id: str) -> web.StreamResponse:
    try:
        _check_length(request)
        admit(request)
        return await _run(handler, request)
    except TokenhubError as exc:
        return render_error(request, exc, request_id)
    except web.HTTPException as exc:
        if exc.status < web.HTTPBadRequest.status_code:
            raise
        return render_http_error(request, exc, request_id)
    except asyncio.CancelledError:
        if not client_left(request):
            raise  # shutdown, or whoever cancelled us, must see its cancellation through
        # aiohttp cancels the handler when the client disconnects (handler_cancellation)
        # and writes no access line for a cancelled handler; answering 499 instead ends
        # the request like any other (its write fails, aiohttp logs the line and closes).
        # Nothing else waits on this cancellation: the connection's task ends with it.
        _uncancel()
        return _client_closed(request_id)
    except Exception as exc:
        if isinstance(exc, ConnectionError) and client_gone(request):
            return _client_closed(request_id)  # a write to, or read from, a client that left
        log.exception("unhandled error", extra={"request_id": request_id})
        return render_internal(request, request_id)


def _run(handler: Handler, request: web.Request) -> Awaitable[web.StreamResponse]:
    if request.path.startswith(CONSUMER_PREFIX):
        return handler(request)  # cancelled when its client leaves
    return _to_completion(handler, request)


async def _to_completion(handler: Handler, request: web.Request) -> web.StreamResponse:
    """Run a handler to its end even if its client leaves (a shutdown still cancels it).

    Admin writes are not cancel-safe: a registry, vault or key change and the audit record
    that follows it must not be parted by a client that disconnects in between. Only the
    consumer API's handlers are cancelled with their client (their work is the upstream
    call, which is better stopped than finished for nobody).
    """
    task = asyncio.ensure_future(handler(request))
    while True:
        try:
            response = await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done() or not client_left(request):
                task.cancel()
                raise
            _uncancel()
            continue
        if client_gone(request):
            return _client_closed(request[REQUEST_ID])
        return response


def client_gone(request: web.BaseRequest) -> bool:
    """Whether the client's connection is closed or closing: it left before the answer."""
    transport = request.transport
    return transport is None or transport.is_closing()


def client_left(request: web.Request) -> bool:
    """Whether a cancelled handler's client left, rather than the daemon stopping.

    A shutdown closes the connection right after cancelling the handler, so a gone
    connection alone does not tell the two apart.
    """
    return client_gone(request) and not request.app[STOPPING].is_set()


def _client_closed(request_id: str) -> web.Response:
    log.info("client_closed", extra={"request_id": request_id})
    return web.Response(status=CLIENT_CLOSED)


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


def _check_length(request: web.Request) -> None:
    limit = request.app[SETTINGS].settings.max_body_bytes
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLargeError(f"request body is larger than the {limit}-byte limit")
