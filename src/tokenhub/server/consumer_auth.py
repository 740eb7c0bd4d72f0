"""API-key enforcement on the consumer API: key, scope, rate limit and budget, per request."""

from __future__ import annotations

from aiohttp import web

from tokenhub.auth.apikeys import ApiKey
from tokenhub.server.app_keys import KEYRING, SETTINGS

CONSUMER_PREFIX = "/v1/"
API_KEY: web.RequestKey[ApiKey | None] = web.RequestKey("api_key")
CHAT_SCOPE = "chat"
"""The scope every /v1 endpoint needs today (chat, messages, responses, models)."""


def presented_key(request: web.Request) -> str | None:
    """The key a client sent: ``Authorization: Bearer`` (OpenAI) or ``x-api-key`` (Anthropic)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def admit_consumer(request: web.Request) -> None:
    """Admit a /v1 request by key (required or optional per settings); 401/403/429/402 else."""
    required = request.app[SETTINGS].require_api_key
    keyring = request.app[KEYRING]
    request[API_KEY] = keyring.admit(presented_key(request), CHAT_SCOPE, required=required)


def allowed_models(key: ApiKey | None) -> frozenset[str] | None:
    """The models a key may use (None: no restriction)."""
    if key is None or not key.models:
        return None
    return frozenset(key.models)
