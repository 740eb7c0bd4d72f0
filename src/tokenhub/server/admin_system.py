"""Admin endpoints about the daemon itself: status and the admin token."""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web

from tokenhub import __version__
from tokenhub.clock import new_id
from tokenhub.config import mask_url
from tokenhub.server.admin_auth import ADMIN_ACTOR, ADMIN_TOKENS, hash_token, new_admin_token
from tokenhub.server.admin_sessions import ADMIN_SESSIONS
from tokenhub.server.app_keys import CLOCK, ENGINE, LISTENERS, SETTINGS, STARTED_AT, VAULT
from tokenhub.server.audit import audit
from tokenhub.server.errors import json_response
from tokenhub.server.routes import RouteTable
from tokenhub.store.meta import set_meta
from tokenhub.store.migrate import current_revision, head_revision

ADMIN_TOKEN_KEY = "admin_token"  # noqa: S105 - a table key name


async def status(request: web.Request) -> web.Response:
    """Version, uptime, listeners, database, migration revision and vault state."""
    return json_response(200, await status_report(request.app))


async def status_report(app: web.Application) -> dict[str, Any]:
    """The facts ``tokenhub status`` shows."""
    loaded = app[SETTINGS]
    return {
        "version": __version__,
        "pid": os.getpid(),
        "uptime_s": round(app[CLOCK].time() - app[STARTED_AT], 3),
        "listeners": app[LISTENERS],
        "database": mask_url(loaded.db_url),
        "migration": {"current": await current_revision(app[ENGINE]), "head": head_revision()},
        "demo": loaded.settings.demo,
        "vault": app[VAULT].status().state if VAULT in app else "unknown",
    }


async def rotate_admin_token(request: web.Request) -> web.Response:
    """Create a new admin token (the old one stops working); the token is shown only here."""
    token = new_admin_token()
    token_id = new_id("adm_")[:16]
    app = request.app
    await set_meta(
        app[ENGINE], ADMIN_TOKEN_KEY, {"hash": hash_token(token), "id": token_id}, app[CLOCK].time()
    )
    app[ADMIN_TOKENS].token_hash = hash_token(token)
    app[ADMIN_TOKENS].token_id = token_id
    app[ADMIN_SESSIONS].end_all()
    audit(app, request[ADMIN_ACTOR], "admin_token.rotate", target=token_id)
    return json_response(200, {"token": token, "id": token_id})


def add_routes(routes: RouteTable) -> None:
    """Declare the daemon-level admin routes."""
    routes.add("GET", "/admin/v1/status", status, tag="admin", auth="adminToken")
    routes.add("POST", "/admin/v1/admin-token", rotate_admin_token, tag="admin", auth="adminToken")
