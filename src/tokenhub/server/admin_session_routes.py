"""Log in to and out of the web admin (session cookie + CSRF token)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from tokenhub.errors import UnauthorizedError
from tokenhub.server.admin_auth import ADMIN_ACTOR, ADMIN_TOKENS
from tokenhub.server.admin_sessions import ADMIN_SESSIONS, COOKIE, set_cookie
from tokenhub.server.audit import audit
from tokenhub.server.errors import json_response
from tokenhub.server.request_input import read_json, validate
from tokenhub.server.routes import RouteTable


class Login(BaseModel):
    """The admin token, posted once to start a browser session."""

    model_config = ConfigDict(extra="forbid")

    token: str


async def login(request: web.Request) -> web.Response:
    """Exchange the admin token for an HttpOnly session cookie and a CSRF token."""
    credentials = validate(Login, await read_json(request))
    tokens = request.app[ADMIN_TOKENS]
    if not tokens.verify(credentials.token):
        audit(request.app, "login", "session.login", outcome="denied")
        raise UnauthorizedError("admin authentication required")
    session_id, session = request.app[ADMIN_SESSIONS].create(tokens.token_id)
    audit(request.app, f"token:{tokens.token_id}", "session.login")
    response = json_response(200, {"csrf_token": session.csrf_token})
    set_cookie(response, session_id, secure=request.secure)
    return response


async def whoami(request: web.Request) -> web.Response:
    """Who the current admin credentials belong to."""
    return json_response(200, {"actor": request[ADMIN_ACTOR]})


async def logout(request: web.Request) -> web.Response:
    """End the browser session."""
    request.app[ADMIN_SESSIONS].end(request.cookies.get(COOKIE, ""))
    response = json_response(200, {"logged_out": True})
    response.del_cookie(COOKIE, path="/admin")
    return response


def add_routes(routes: RouteTable) -> None:
    """Declare the session routes."""
    schema = Login.model_json_schema()
    routes.add("POST", "/admin/v1/session", login, tag="admin", request_schema=schema)
    routes.add("GET", "/admin/v1/session", whoami, tag="admin", auth="adminToken")
    routes.add("DELETE", "/admin/v1/session", logout, tag="admin", auth="adminToken")
