"""Admin authorisation: socket owner allowed, TCP needs the bearer token, else a bare 401."""

from __future__ import annotations

import pytest

from tokenhub.config import load_settings
from tokenhub.server.admin_auth import LOGIN_PATH
from tokenhub.server.app import create_app
from tokenhub.testing.inprocess import run_app


@pytest.fixture
async def running(tokenhub_home):
    """An app serving on TCP and its Unix socket."""
    loaded = load_settings()
    async with run_app(loaded, create_app(loaded)) as running:
        yield running


def admin_routes(app):
    """Every (method, path) under /admin/ that the router serves."""
    return sorted(
        {
            (route.method, route.resource.canonical)
            for route in app.router.routes()
            if route.resource is not None
            and route.resource.canonical.startswith("/admin/")
            and route.method != "HEAD"
        }
    )


async def test_every_admin_route_needs_a_token_over_tcp(running):
    """Each /admin route (enumerated from the router) answers 401 over TCP without a token."""
    routes = admin_routes(running.app)
    assert routes
    async with running.tcp_session() as http:
        for method, path in routes:
            concrete = path.replace("{", "").replace("}", "")
            # The login route is open by design; it answers 401 to a wrong token.
            body = {"token": "thadm_wrong"} if (method, path) == ("POST", LOGIN_PATH) else None
            response = await http.request(method, concrete, json=body)
            error = await response.json()
            assert response.status == 401, (method, path)
            assert error["error"]["message"] == "admin authentication required"


async def test_socket_owner_is_authorised(running):
    """Over the Unix socket the admin API answers without any token."""
    async with running.unix_session() as http:
        response = await http.get("/admin/v1/status")
        assert response.status == 200
        assert (await response.json())["listeners"][0].startswith("http://127.0.0.1:")


async def test_rotated_token_works_over_tcp_and_old_one_stops(running):
    """A token made over the socket opens TCP admin; rotating again revokes it."""
    async with running.unix_session() as sock:
        first = (await (await sock.post("/admin/v1/admin-token")).json())["token"]
        assert first.startswith("thadm_")
        async with running.tcp_session() as http:
            ok = await http.get("/admin/v1/status", headers={"Authorization": f"Bearer {first}"})
            assert ok.status == 200
            bad = await http.get("/admin/v1/status", headers={"Authorization": "Bearer thadm_x"})
            assert bad.status == 401
            second = (await (await sock.post("/admin/v1/admin-token")).json())["token"]
            old = await http.get("/admin/v1/status", headers={"Authorization": f"Bearer {first}"})
            new = await http.get("/admin/v1/status", headers={"Authorization": f"Bearer {second}"})
            assert (old.status, new.status) == (401, 200)


async def test_token_survives_restart(tokenhub_home):
    """The token's hash is stored, so a restarted daemon accepts the same token."""
    loaded = load_settings()
    async with run_app(loaded, create_app(loaded)) as running, running.unix_session() as sock:
        token = (await (await sock.post("/admin/v1/admin-token")).json())["token"]
    loaded = load_settings()
    async with run_app(loaded, create_app(loaded)) as running, running.tcp_session() as http:
        response = await http.get("/admin/v1/status", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200


async def test_web_session_login_cookie_and_csrf(running):
    """Logging in with the token sets a strict HttpOnly cookie; writes need the CSRF token."""
    async with running.unix_session() as sock:
        token = (await (await sock.post("/admin/v1/admin-token")).json())["token"]
    async with running.tcp_session() as http:
        denied = await http.post("/admin/v1/session", json={"token": "thadm_nope"})
        assert denied.status == 401
        response = await http.post("/admin/v1/session", json={"token": token})
        csrf = (await response.json())["csrf_token"]
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/admin" in cookie
        assert token not in cookie
        assert (await http.get("/admin/v1/status")).status == 200
        assert (await (await http.get("/admin/v1/session")).json())["actor"].startswith("session:")
        no_csrf = await http.patch("/admin/v1/routing", json={"attempt_budget": 3})
        assert no_csrf.status == 403
        with_csrf = await http.patch(
            "/admin/v1/routing", json={"attempt_budget": 3}, headers={"X-CSRF-Token": csrf}
        )
        assert with_csrf.status == 200
        await http.delete("/admin/v1/session", headers={"X-CSRF-Token": csrf})
        assert (await http.get("/admin/v1/status")).status == 401


async def test_token_rotation_ends_sessions(running):
    """Rotating the admin token logs every browser session out."""
    async with running.unix_session() as sock:
        token = (await (await sock.post("/admin/v1/admin-token")).json())["token"]
        async with running.tcp_session() as http:
            await http.post("/admin/v1/session", json={"token": token})
            assert (await http.get("/admin/v1/status")).status == 200
            await sock.post("/admin/v1/admin-token")
            assert (await http.get("/admin/v1/status")).status == 401
