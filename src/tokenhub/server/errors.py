"""The one place that turns an error into an HTTP response, in the format of the API called.

``/v1/chat/completions`` and ``/v1/responses`` answer with OpenAI's error object,
``/v1/messages`` with Anthropic's, ``/v1/models`` with either (by the ``anthropic-version``
header), everything else with tokenhub's envelope ``{"error": {type, message, request_id}}``.
All three carry the stable tokenhub ``type`` and the request id.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from aiohttp import web

from tokenhub.errors import (
    NoEligibleModelError,
    OverloadedError,
    ProvidersUnavailableError,
    RateLimitedError,
    TokenhubError,
)

OPENAI_PATHS = frozenset({"/v1/chat/completions", "/v1/embeddings", "/v1/responses"})
"""Paths answered in OpenAI's error format (and everything under ``/v1/responses/``);
``/v1/models``: see ``api_flavour``."""
RESPONSES_PREFIX = "/v1/responses/"
ANTHROPIC_PATHS = frozenset({"/v1/messages", "/v1/messages/count_tokens"})

HTTP_ERROR_TYPES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


MODELS_PATH = "/v1/models"
ANTHROPIC_VERSION_HEADER = "anthropic-version"


def is_anthropic_client(request: web.BaseRequest) -> bool:
    """Whether an Anthropic SDK sent this (it always sends ``anthropic-version``)."""
    return ANTHROPIC_VERSION_HEADER in request.headers


def api_flavour(request: web.BaseRequest) -> str:
    """``anthropic``, ``openai`` or ``tokenhub``: whose error format this request gets.

    ``/v1/models`` serves both SDKs, so there the header decides.
    """
    path = request.path
    if path in ANTHROPIC_PATHS:
        return "anthropic"
    if path == MODELS_PATH or path.startswith(MODELS_PATH + "/"):
        return "anthropic" if is_anthropic_client(request) else "openai"
    return "openai" if path in OPENAI_PATHS or path.startswith(RESPONSES_PREFIX) else "tokenhub"


def error_body(
    flavour: str, error_type: str, message: str, request_id: str, details: dict[str, Any]
) -> dict[str, Any]:
    """Build the error body in ``flavour``'s format (see ``api_flavour``)."""
    if flavour == "anthropic":
        return {
            "type": "error",
            "error": {"type": error_type, "message": message, **details},
            "request_id": request_id,
        }
    inner: dict[str, Any] = {"type": error_type, "message": message, "request_id": request_id}
    if flavour == "openai":
        inner.setdefault("param", None)
        inner.setdefault("code", error_type)
    inner.update(details)
    return {"error": inner}


def json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON response serialised with orjson."""
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def render_error(request: web.Request, exc: TokenhubError, request_id: str) -> web.Response:
    """Render a TokenhubError for this request."""
    headers: dict[str, str] = {}
    retry_after = (
        exc.retry_after
        if isinstance(
            exc,
            RateLimitedError | NoEligibleModelError | OverloadedError | ProvidersUnavailableError,
        )
        else None
    )
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    body = error_body(api_flavour(request), exc.type, exc.message, request_id, exc.details())
    return json_response(exc.status, body, headers)


def render_http_error(
    request: web.Request, exc: web.HTTPException, request_id: str
) -> web.Response:
    """Render aiohttp's own HTTP errors (404, 405, 413...) as JSON, never HTML."""
    error_type = HTTP_ERROR_TYPES.get(exc.status, "http_error")
    too_large = exc.status == web.HTTPRequestEntityTooLarge.status_code
    message = "request body is too large" if too_large else exc.reason
    body = error_body(api_flavour(request), error_type, message, request_id, {})
    headers = {k: v for k, v in exc.headers.items() if k.lower() in {"allow", "retry-after"}}
    return json_response(exc.status, body, headers)


def render_internal(request: web.Request, request_id: str) -> web.Response:
    """A 500 that says where to look, never what broke."""
    body = error_body(
        api_flavour(request),
        "internal_error",
        f"internal error; the daemon log has the details under request id {request_id}",
        request_id,
        {},
    )
    return json_response(500, body)
