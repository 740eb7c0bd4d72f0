"""Admin API for the vault: init, unlock, lock, rotate the password, escrow provider keys.

Passwords travel only in request bodies (never URLs, never logs) and are never stored.
Every vault action is audited with the caller as actor; the idle auto-lock is audited as
``system``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from tokenhub.clock import new_id
from tokenhub.errors import InvalidRequestError
from tokenhub.server.admin_auth import ADMIN_ACTOR, ADMIN_TOKENS, hash_token, new_admin_token
from tokenhub.server.admin_sessions import ADMIN_SESSIONS
from tokenhub.server.admin_system import ADMIN_TOKEN_KEY
from tokenhub.server.app_keys import CLOCK, ENGINE, EVENTS, GATEWAY, REDACTOR, VAULT
from tokenhub.server.audit import audit
from tokenhub.server.errors import json_response
from tokenhub.server.request_input import read_json, validate
from tokenhub.server.routes import RouteTable
from tokenhub.store.meta import set_meta
from tokenhub.vault import PROVIDER_KEY, VaultEvent

VAULT_ACTOR: ContextVar[str] = ContextVar("vault_actor", default="system")
ID_PARAM = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]


class Password(BaseModel):
    """A vault password (init, unlock)."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=4096)


class NewPassword(BaseModel):
    """Old and new password for rotation."""

    model_config = ConfigDict(extra="forbid")

    old_password: str = Field(min_length=1, max_length=4096)
    new_password: str = Field(min_length=1, max_length=4096)


class ProviderKey(BaseModel):
    """A provider's API key to escrow in the vault."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=8192)


def vault_event_sink(app: web.Application) -> Callable[[VaultEvent], None]:
    """Audit each vault event as the current caller, and publish lock state changes."""

    def sink(event: VaultEvent) -> None:
        audit(
            app,
            VAULT_ACTOR.get(),
            f"vault.{event.action}",
            outcome=event.outcome,
            details=event.details,
        )
        if event.outcome == "ok" and event.action in ("init", "unlock", "lock"):
            name = "vault.locked" if event.action == "lock" else "vault.unlocked"
            app[EVENTS].publish(name, reason=event.details.get("reason", event.action))

    return sink


def _status(app: web.Application) -> dict[str, Any]:
    vault = app[VAULT]
    keys = sorted(sid for sid, purpose in vault.list_secrets() if purpose == PROVIDER_KEY)
    return {**vault.status().as_dict(), "provider_keys": keys}


async def vault_status(request: web.Request) -> web.Response:
    """State (uninitialised, locked, unlocked), idle timer, failed attempts, KDF cost."""
    return json_response(200, _status(request.app))


async def vault_init(request: web.Request) -> web.Response:
    """Create the vault with an admin password (12+ characters); it starts unlocked.

    When no admin token exists yet, one is created and returned here, once.
    """
    body = validate(Password, await read_json(request))
    VAULT_ACTOR.set(request[ADMIN_ACTOR])
    await request.app[VAULT].init(body.password)
    result = _status(request.app)
    if request.app[ADMIN_TOKENS].token_hash is None:
        result["admin_token"] = await _first_admin_token(request)
    return json_response(200, result)


async def _first_admin_token(request: web.Request) -> str:
    app = request.app
    token, token_id = new_admin_token(), new_id("adm_")[:16]
    record = {"hash": hash_token(token), "id": token_id}
    await set_meta(app[ENGINE], ADMIN_TOKEN_KEY, record, app[CLOCK].time())
    app[ADMIN_TOKENS].token_hash, app[ADMIN_TOKENS].token_id = record["hash"], token_id
    app[ADMIN_SESSIONS].end_all()
    audit(app, request[ADMIN_ACTOR], "admin_token.create", target=token_id)
    return token


async def vault_unlock(request: web.Request) -> web.Response:
    """Unlock with the password; a wrong one is 403 and repeated ones are slowed (429)."""
    body = validate(Password, await read_json(request))
    VAULT_ACTOR.set(request[ADMIN_ACTOR])
    await request.app[VAULT].unlock(body.password)
    return json_response(200, _status(request.app))


async def vault_lock(request: web.Request) -> web.Response:
    """Lock now: the key material is wiped from memory; escrowed keys become unusable."""
    VAULT_ACTOR.set(request[ADMIN_ACTOR])
    request.app[VAULT].lock()
    return json_response(200, _status(request.app))


async def vault_rotate(request: web.Request) -> web.Response:
    """Change the password; the data key is re-wrapped, no secret is re-encrypted."""
    body = validate(NewPassword, await read_json(request))
    VAULT_ACTOR.set(request[ADMIN_ACTOR])
    await request.app[VAULT].rotate_password(body.old_password, body.new_password)
    return json_response(200, _status(request.app))


async def put_provider_key(request: web.Request) -> web.Response:
    """Escrow a provider's API key in the (unlocked) vault; the provider must exist."""
    provider = request.app[GATEWAY].registry.provider(request.match_info["id"]).config
    body = validate(ProviderKey, await read_json(request))
    if provider.credential != "escrow":
        raise InvalidRequestError(
            f"provider '{provider.id}' uses credential '{provider.credential}';"
            " set its credential to 'escrow' first",
            param="credential",
        )
    await request.app[VAULT].put_secret(provider.id, PROVIDER_KEY, body.key)
    request.app[REDACTOR].add_secret(body.key)
    request.app[GATEWAY].health.reset_provider(provider.id)
    audit(request.app, request[ADMIN_ACTOR], "provider.key.set", target=provider.id)
    return json_response(200, {"provider": provider.id, "stored": True})


async def delete_provider_key(request: web.Request) -> web.Response:
    """Remove a provider's escrowed key."""
    provider_id = request.match_info["id"]
    deleted = await request.app[VAULT].delete_secret(provider_id, PROVIDER_KEY)
    audit(request.app, request[ADMIN_ACTOR], "provider.key.delete", target=provider_id)
    return json_response(200, {"provider": provider_id, "deleted": deleted})


def add_routes(routes: RouteTable) -> None:
    """Declare the vault routes."""
    auth = {"tag": "vault", "auth": "adminToken"}
    routes.add("GET", "/admin/v1/vault", vault_status, **auth)
    password = Password.model_json_schema()
    routes.add("POST", "/admin/v1/vault/init", vault_init, request_schema=password, **auth)
    routes.add("POST", "/admin/v1/vault/unlock", vault_unlock, request_schema=password, **auth)
    routes.add("POST", "/admin/v1/vault/lock", vault_lock, **auth)
    rotate = NewPassword.model_json_schema()
    routes.add(
        "POST", "/admin/v1/vault/rotate-password", vault_rotate, request_schema=rotate, **auth
    )
    key = ProviderKey.model_json_schema()
    routes.add(
        "PUT",
        "/admin/v1/providers/{id}/key",
        put_provider_key,
        request_schema=key,
        params=ID_PARAM,
        **auth,
    )
    routes.add(
        "DELETE", "/admin/v1/providers/{id}/key", delete_provider_key, params=ID_PARAM, **auth
    )
