"""Admin authorisation: socket owner allowed, TCP needs the bearer token, else a bare 401."""

from __future__ import annotations

import pytest

from tokenhub.config import load_settings
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
            response = await http.request(method, concrete)
            body = await response.json()
            assert response.status == 401, (method, path)
            assert body["error"]["message"] == "admin authentication required"


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
