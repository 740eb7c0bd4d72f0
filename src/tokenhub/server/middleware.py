"""Request id, error envelope and metrics middleware."""

from __future__ import annotations

import logging
import re
import time

from aiohttp import web

from tokenhub.errors import PayloadTooLargeError, TokenhubError
from tokenhub.server.errors import render_error, render_http_error, render_internal
from tokenhub.server.keys import METRICS, NEW_ID, SETTINGS
from tokenhub.server.routes import Handler

log = logging.getLogger("tokenhub.server")
REQUEST_ID = web.RequestKey("request_id", str)
REQUEST_ID_HEADER = "X-Request-ID"
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Accept a sane ``X-Request-ID`` or make one; echo it on every response."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = given if VALID_REQUEST_ID.match(given) else request.app[NEW_ID]()
    request[REQUEST_ID] = request_id
    response = await handler(request)
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every failure into a JSON error body; never HTML, never a traceback."""
    request_id = request[REQUEST_ID]
    try:
        response = await handler(request)
    except TokenhubError as exc:
        response = render_error(request, exc, request_id)
    except web.HTTPException as exc:
        if exc.status < web.HTTPBadRequest.status_code:
            raise
        response = render_http_error(request, exc, request_id)
    except Exception:
        log.exception("unhandled error", extra={"request_id": request_id})
        response = render_internal(request, request_id)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count requests and time them per route template; track requests in flight."""
    metrics = request.app[METRICS]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    metrics.in_flight.inc()
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        metrics.in_flight.dec()
        metrics.http_requests.labels(route, request.method, str(status)).inc()
        metrics.http_duration.labels(route).observe(time.perf_counter() - started)


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a declared body over ``max_body_bytes`` before anything reads it.

    Bodies without a Content-Length (chunked) are capped by aiohttp's client_max_size,
    set to the same limit, when the handler reads them.
    """
    limit = request.app[SETTINGS].settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLargeError(f"request body is larger than the {limit}-byte limit")
    return await handler(request)
