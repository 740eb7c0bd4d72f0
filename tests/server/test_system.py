"""System routes and middleware: health, readiness, metrics, OpenAPI, ids, error envelope."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from tokenhub.config import load_settings
from tokenhub.server.app import create_app
from tokenhub.store.engine import create_engine
from tokenhub.store.migrate import current_revision, head_revision, upgrade


async def test_healthz(client):
    """/healthz answers ok and echoes a generated request id."""
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}
    assert len(response.headers["X-Request-ID"]) == 24


async def test_request_id_is_accepted_and_echoed(client):
    """A sane X-Request-ID from the client is kept; a malformed one is replaced."""
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
    response = await client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["X-Request-ID"] != "bad id\twith spaces"


async def test_readyz_ready(client):
    """/readyz reports the database reachable and migrations current."""
    response = await client.get("/readyz")
    assert response.status == 200
    assert (await response.json())["checks"] == {"database": "ok", "migrations": "ok"}


async def test_readyz_reports_missing_migration(tokenhub_home):
    """With the schema behind head, /readyz is 503 and names the migration state."""
    app = create_app(load_settings(), migrate=False)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/readyz")
        body = await response.json()
    assert response.status == 503
    assert body["checks"]["migrations"].startswith("at nothing, needs ")
    assert body["error"]["type"] == "not_ready"


async def test_readyz_after_manual_upgrade(tokenhub_home):
    """Once migrated by `db upgrade`, a daemon that does not migrate is ready."""
    loaded = load_settings()
    engine = create_engine(loaded.db_url)
    await upgrade(engine)
    await engine.dispose()
    async with TestClient(TestServer(create_app(loaded, migrate=False))) as client:
        assert (await client.get("/readyz")).status == 200


@pytest.mark.parametrize("start_at", [None, "0004"])
async def test_daemon_start_migrates_in_child(tokenhub_home, start_at):
    """Started as the daemon starts it, the app reaches head from empty and from older.

    An empty database is created at head in-process; an older one is migrated by the child.
    """
    loaded = load_settings()
    engine = create_engine(loaded.db_url)
    if start_at is not None:
        await upgrade(engine, start_at)
    async with TestClient(TestServer(create_app(loaded, migrate_in_child=True))) as client:
        assert (await client.get("/readyz")).status == 200
    assert await current_revision(engine) == head_revision()
    await engine.dispose()


async def test_not_found_is_json(client):
    """Unknown routes get the JSON error envelope, not an HTML page."""
    response = await client.get("/no/such/thing")
    body = await response.json()
    assert response.status == 404
    assert response.content_type == "application/json"
    assert body["error"]["type"] == "not_found"
    assert body["error"]["request_id"] == response.headers["X-Request-ID"]


async def test_method_not_allowed_is_json(client):
    """A wrong method gets 405 in the envelope with the Allow header."""
    response = await client.post("/healthz")
    assert response.status == 405
    assert (await response.json())["error"]["type"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize("settings_overrides", [{"max_body_bytes": 2048}])
async def test_body_limit(client):
    """A body over max_body_bytes is refused with 413 in the envelope."""
    response = await client.post("/admin/v1/admin-token", data=b"x" * 4096)
    body = await response.json()
    assert response.status == 413
    assert body["error"]["type"] == "payload_too_large"
    assert "2048" in body["error"]["message"]
    response = await client.post("/admin/v1/admin-token", data=b"x" * 100)
    assert response.status == 401


async def test_unhandled_error_has_no_traceback(tokenhub_home):
    """A crashing handler yields a 500 envelope pointing at the log, no traceback."""

    async def boom(_request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app = create_app(load_settings())
    app.router.add_get("/boom", boom)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/boom")
        text = await response.text()
    assert response.status == 500
    assert "secret internals" not in text
    assert "Traceback" not in text
    error = json.loads(text)["error"]
    request_id = response.headers["X-Request-Id"]
    assert error["type"] == "internal_error"
    assert error["message"] == (
        f"internal error; the daemon log has the details under request id {request_id}"
    )


async def test_metrics_exposition_counts_requests(client):
    """/metrics is Prometheus text and counts the requests made, per route and status."""
    await client.get("/healthz")
    await client.get("/healthz")
    await client.get("/missing")
    response = await client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = {
        (s.name, s.labels.get("route"), s.labels.get("status")): s.value
        for family in text_string_to_metric_families(await response.text())
        for s in family.samples
    }
    assert samples[("tokenhub_http_requests_total", "/healthz", "200")] == 2
    assert samples[("tokenhub_http_requests_total", "unmatched", "404")] == 1


async def test_openapi_describes_every_route(client):
    """Every route the app serves appears in /openapi.json with the same method."""
    document = await (await client.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in client.server.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served == documented
    for ops in document["paths"].values():
        for op in ops.values():
            assert op["summary"], op
