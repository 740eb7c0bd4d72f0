"""Reading client input: JSON bodies and tokenhub policy hints (body field or headers)."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from tokenhub.errors import InvalidRequestError, RedirectFieldError
from tokenhub.routing.policy import Policy

M = TypeVar("M", bound=BaseModel)
POLICY_FIELD = "tokenhub"
NO_POLICY = Policy()
POLICY_HEADERS = {
    "X-Tokenhub-Mode": "mode",
    "X-Tokenhub-Max-Budget-Usd": "max_budget_usd",
    "X-Tokenhub-Max-Latency-Ms": "max_latency_ms",
    "X-Tokenhub-Min-Weight": "min_weight",
    "X-Tokenhub-Strict": "strict",
}
REDIRECT_FIELDS = frozenset(
    {"api_base", "base_url", "api_key", "extra_headers", "default_headers", "headers"}
)
"""Fields other gateways act on to pick an upstream's address, credential or headers."""
_REDIRECT_NEEDLES = tuple(f'"{name}"'.encode() for name in sorted(REDIRECT_FIELDS))
_USER_DATA = frozenset({"input_schema", "parameters", "schema", "properties", "input", "arguments"})
"""Subtrees that are the client's own data (tool schemas, tool inputs), not directives."""


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object, or a 400 naming the problem."""
    raw = await request.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequestError("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("request body must be a JSON object")
    return body


def refuse_redirects(raw: bytes, body: dict[str, Any]) -> None:
    """400 naming any field, at any depth, that would choose the destination or credential.

    A quoted key inside a JSON string is escaped, so the byte search finds only real keys
    (and the odd string value): most bodies are cleared without being walked.
    """
    if not any(needle in raw for needle in _REDIRECT_NEEDLES):
        return
    path = _redirect_path(body, "")
    if path is not None:
        raise RedirectFieldError(path)


def _redirect_path(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key in REDIRECT_FIELDS:
                return where
            if key not in _USER_DATA and (found := _redirect_path(item, where)) is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _redirect_path(item, f"{path}[{index}]")) is not None:
                return found
    return None


def read_policy(request: web.Request, body: dict[str, Any]) -> Policy:
    """Policy hints: ``X-Tokenhub-*`` headers, overridden by the body's ``tokenhub`` field."""
    hinted: dict[str, Any] = {}
    for header, key in POLICY_HEADERS.items():
        if header in request.headers:
            hinted[key] = request.headers[header]
    extra = body.get(POLICY_FIELD)
    if not hinted and extra is None:
        return NO_POLICY  # the common case: nothing to validate
    from_headers = validate(Policy, hinted, prefix="header ", names=_header_names())
    if extra is None:
        return from_headers
    if not isinstance(extra, dict):
        raise InvalidRequestError("'tokenhub' must be an object", param=POLICY_FIELD)
    from_body = validate(Policy, extra, prefix=f"{POLICY_FIELD}.")
    return from_headers.merged(from_body.model_dump(exclude_unset=True))


def _header_names() -> dict[str, str]:
    return {key: header for header, key in POLICY_HEADERS.items()}


def validate(
    model: type[M], data: dict[str, Any], *, prefix: str = "", names: dict[str, str] | None = None
) -> M:
    """Validate ``data`` as ``model``; the first problem becomes a 400 naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid_from(exc, prefix=prefix, names=names) from None


def invalid_from(
    exc: ValidationError, *, prefix: str = "", names: dict[str, str] | None = None
) -> InvalidRequestError:
    """Turn the first pydantic error into an InvalidRequestError with a field path."""
    err = exc.errors()[0]
    path = ".".join(str(p) for p in err["loc"])
    field = (names or {}).get(path, path)
    message = err["msg"][:1].lower() + err["msg"][1:]
    if err["type"] == "extra_forbidden":
        message = "unknown field"
    param = field if names and path in names else f"{prefix}{field}"
    return InvalidRequestError(f"{prefix}{field}: {message}", param=param)
