"""API-key enforcement on the consumer API: key, scope, rate limit and budget, per request."""

from __future__ import annotations

from aiohttp import web

from tokenhub.auth.apikeys import ApiKey
from tokenhub.server.app_keys import KEYRING, SETTINGS

CONSUMER_PREFIX = "/v1/"
API_KEY: web.RequestKey[ApiKey | None] = web.RequestKey("api_key")
SCOPE_BY_PATH = {"/v1/plan": "plan", "/v1/embeddings": "embeddings"}


def presented_key(request: web.Request) -> str | None:
    """The key a client sent: ``Authorization: Bearer`` (OpenAI) or ``x-api-key`` (Anthropic)."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def admit_consumer(request: web.Request) -> None:
    """Admit a /v1 request by key (required or optional per settings); 401/403/429/402 else."""
    scope = SCOPE_BY_PATH.get(request.path, "chat")
    required = request.app[SETTINGS].require_api_key
    request[API_KEY] = request.app[KEYRING].admit(presented_key(request), scope, required=required)


def allowed_models(key: ApiKey | None) -> frozenset[str] | None:
    """The models a key may use (None: no restriction)."""
    if key is None or not key.models:
        return None
    return frozenset(key.models)
