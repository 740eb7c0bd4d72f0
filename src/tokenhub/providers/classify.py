"""Upstream failures to classified, secret-free ``ProviderError``s: the router's contract.

One table serves the three wire formats, because their error bodies can be told apart by
shape: OpenAI ``{"error": {message, type, param, code}}``, Anthropic ``{"type": "error",
"error": {type, message}}``, vLLM flat ``{"object": "error", message, type, param, code}``
(newer vLLM nests it like OpenAI; its API-key middleware answers ``{"error":
"Unauthorized"}``). Errors met inside a stream carry no status, so their ``type`` (or
vLLM's numeric ``code``) stands in for one.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

import orjson

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.transport import TRANSPORT_ERRORS

MAX_MESSAGE = 300
"""Upstream text kept in ``ProviderError.message``; the rest is cut (after scrubbing)."""

_MAX_SCAN = 4096
"""Bytes of a non-JSON error body read for a message (scrubbed whole, then cut)."""

SCRUBBED = "[redacted]"

_CONTEXT = re.compile(
    r"context_length_exceeded|maximum context length|maximum model length|prompt is too long"
    r"|exceeds? (?:the )?context (?:limit|window)|context window|is too long and exceeds",
    re.IGNORECASE,
)
"""OpenAI (code and wording), Anthropic ("prompt is too long", "exceed context limit") and
vLLM ("maximum context length", "longer than the maximum model length")."""

_SECRET_SHAPES = re.compile(
    r"\bsk-[A-Za-z0-9_\-*.]{2,}|\bth-[A-Za-z0-9_-]{8,}|\bgsk_[A-Za-z0-9]{8,}|\bBearer\s+\S+"
)
"""Credential-shaped text: OpenAI and Anthropic keys, masked ones included (OpenAI echoes
``sk-abc***...wxyz``), tokenhub's own ``th-`` keys, Groq's ``gsk_`` keys, bearer tokens."""

_QUOTA_CODES = frozenset({"insufficient_quota", "billing_hard_limit_reached", "billing_error"})
"""An answer no wait will cure: the account is out of credit (OpenAI's 429
``insufficient_quota``, Anthropic's 402 ``billing_error``)."""

_NO_CREDIT = re.compile(r"credit balance is too low|exceeded your current quota", re.IGNORECASE)
"""Anthropic answers 400 ``invalid_request_error`` "Your credit balance is too low to access
the Anthropic API"; OpenAI's quota message, for vendors that copy it under another code."""

_PSEUDO_STATUS: dict[str, int] = {
    # OpenAI
    "server_error": 500,
    "invalid_request_error": 400,
    "rate_limit_exceeded": 429,
    "requests": 429,
    "tokens": 429,
    "insufficient_quota": 429,
    "invalid_api_key": 401,
    # Anthropic
    "api_error": 500,
    "overloaded_error": 529,
    "timeout_error": 504,
    "rate_limit_error": 429,
    "authentication_error": 401,
    "permission_error": 403,
    "billing_error": 402,
    "not_found_error": 404,
    "request_too_large": 413,
    # vLLM (exception class names)
    "BadRequestError": 400,
    "NotFoundError": 404,
    "TooManyRequestsError": 429,
    "InternalServerError": 500,
    "ServiceUnavailableError": 503,
}
"""Status an in-stream error ``type`` or ``code`` would have had as an HTTP answer."""

_TRANSIENT_4XX = frozenset(
    {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.CONFLICT, HTTPStatus.PROXY_AUTHENTICATION_REQUIRED}
)
"""407 comes from an outbound proxy in front of a plain-http upstream: the proxy refused."""

_TRANSPORT_WORDS = {
    # aiohttp's, for plugin kinds that make their own calls with it
    "ClientPayloadError": "the upstream cut the body short",
    "ServerDisconnectedError": "the upstream closed the connection",
}


_STATUS_KINDS: dict[int, ErrorKind] = {
    HTTPStatus.TOO_MANY_REQUESTS: ErrorKind.RATE_LIMITED,
    HTTPStatus.UNAUTHORIZED: ErrorKind.AUTH,
    HTTPStatus.FORBIDDEN: ErrorKind.AUTH,
    # The chat path is fixed, so a 404 means this provider does not serve the model (a
    # registry mistake or a retired model), never the client's fault.
    HTTPStatus.NOT_FOUND: ErrorKind.MODEL_UNAVAILABLE,
}


def kind_for(
    status: int, message: str, code: str | None = None, error_type: str | None = None
) -> ErrorKind:
    """Classify an upstream HTTP status and its error text (the table in docs/PROVIDERS.md)."""
    if _out_of_credit(status, message, code, error_type):
        return ErrorKind.QUOTA_EXHAUSTED
    by_status = _STATUS_KINDS.get(status)
    if by_status is not None:
        return by_status
    # A non-error status where an answer was due is a malformed answer: transient too.
    if (
        status >= HTTPStatus.INTERNAL_SERVER_ERROR
        or status in _TRANSIENT_4XX
        or status < HTTPStatus.BAD_REQUEST
    ):
        return ErrorKind.TRANSIENT
    if _CONTEXT.search(message) or _CONTEXT.search(f"{code} {error_type}"):
        return ErrorKind.CONTEXT_OVERFLOW
    return ErrorKind.FATAL


def _out_of_credit(status: int, message: str, code: str | None, error_type: str | None) -> bool:
    """Whether the answer says the account is out of credit (no wait will cure it)."""
    if status == HTTPStatus.PAYMENT_REQUIRED or code in _QUOTA_CODES or error_type in _QUOTA_CODES:
        return True
    client_error = HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR
    return client_error and _NO_CREDIT.search(message) is not None


def scrub(text: str, secret: str | None) -> str:
    """Mask the credential in use and anything credential-shaped."""
    if secret and len(secret) >= 4:  # noqa: PLR2004 - shorter values would mask ordinary words
        text = text.replace(secret, SCRUBBED)
    return _SECRET_SHAPES.sub(SCRUBBED, text)


def error_details(body: Any) -> tuple[str | None, str | None, str | None]:
    """(message, type, code) from any of the three error body shapes; Nones if absent."""
    if not isinstance(body, dict):
        return None, None, None
    inner = body.get("error")
    if isinstance(inner, str):
        return inner, None, None
    source = inner if isinstance(inner, dict) else body
    message = source.get("message")
    kind = source.get("type")
    code = source.get("code")
    return (
        None if message is None else str(message),
        kind if isinstance(kind, str) else None,
        None if code is None else str(code),
    )


def response_error(
    status: int,
    raw: bytes,
    *,
    secret: str | None,
    provider: str,
    retry_after: float | None = None,
) -> ProviderError:
    """The classified error for an upstream HTTP answer with a non-2xx status."""
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    message, kind, code = error_details(body)
    if message is None:
        message = _plain_text(raw)
    error_kind = kind_for(status, message, code, kind)
    label = f"HTTP {status}" + (f" {kind}" if kind else "")
    return ProviderError(
        error_kind,
        _short(f"{label}: {scrub(message, secret)}" if message else label),
        upstream_status=status,
        retry_after=retry_after if error_kind is ErrorKind.RATE_LIMITED else None,
        provider=provider,
    )


def stream_error(
    payload: Any, *, secret: str | None, provider: str, client_errors_fatal: bool = True
) -> ProviderError:
    """The classified error for an error object met mid-stream (after a 200).

    ``client_errors_fatal`` False makes a 4xx-typed in-stream error transient: vLLM labels
    every failure inside its stream generator ``BadRequestError``/400 by default, though
    the request was already accepted.
    """
    message, kind, code = error_details({"error": payload})
    if isinstance(payload, dict) and isinstance(payload.get("code"), int):
        status = payload["code"]  # vLLM puts the HTTP status in ``code``
    else:
        status = _PSEUDO_STATUS.get(code or "", _PSEUDO_STATUS.get(kind or "", 500))
    message = message or "upstream stream error"
    label = f"stream error {kind}" if kind else "stream error"
    error_kind = kind_for(status, message, code, kind)
    if error_kind is ErrorKind.FATAL and not client_errors_fatal:
        error_kind = ErrorKind.TRANSIENT
    return ProviderError(
        error_kind,
        _short(f"{label}: {scrub(message, secret)}"),
        provider=provider,
    )


def transport_error(exc: BaseException, *, provider: str, phase: str) -> ProviderError:
    """A connection failure, timeout or cut stream: always transient, never upstream text."""
    if isinstance(exc, TimeoutError):
        text = f"timed out {phase}"
    else:
        name = type(exc).__name__
        detail = getattr(exc, "strerror", None) or _TRANSPORT_WORDS.get(name)
        if detail is None:
            detail = str(exc) if isinstance(exc, TRANSPORT_ERRORS) else name
        text = f"connection failed {phase}: {detail}"
    return ProviderError(ErrorKind.TRANSIENT, text, provider=provider)


def malformed(provider: str, what: str) -> ProviderError:
    """A 2xx answer tokenhub cannot read: transient (a peer may answer properly)."""
    return ProviderError(ErrorKind.TRANSIENT, f"malformed upstream {what}", provider=provider)


def _plain_text(raw: bytes) -> str:
    text = raw[:_MAX_SCAN].decode("utf-8", "replace").strip()
    return "" if text.startswith("<") else " ".join(text.split())  # skip HTML error pages


def _short(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"
