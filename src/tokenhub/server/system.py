"""Liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tokenhub.server.app_keys import ENGINE, METRICS, ROUTES
from tokenhub.server.errors import json_response
from tokenhub.server.middleware import REQUEST_ID
from tokenhub.server.routes import RouteTable
from tokenhub.store.migrate import current_revision, head_revision

PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
STATUS_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"status": {"type": "string"}}}


async def healthz(_request: web.Request) -> web.Response:
    """Liveness: the process is up and its event loop answers."""
    return json_response(200, {"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: the database answers and its schema is at this build's migration head."""
    checks = await readiness_checks(request.app)
    problems = [f"{name}: {state}" for name, state in checks.items() if state != "ok"]
    if not problems:
        return json_response(200, {"status": "ready", "checks": checks})
    error = {
        "type": "not_ready",
        "message": "; ".join(problems),
        "request_id": request[REQUEST_ID],
    }
    return json_response(503, {"status": "not_ready", "checks": checks, "error": error})


async def readiness_checks(app: web.Application) -> dict[str, str]:
    """Check the database connection and the migration revision."""
    engine = app[ENGINE]
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await current_revision(engine)
    except (SQLAlchemyError, OSError) as exc:
        return {"database": f"unreachable ({type(exc).__name__})", "migrations": "unknown"}
    head = head_revision()
    state = "ok" if revision == head else f"at {revision or 'nothing'}, needs {head}"
    return {"database": "ok", "migrations": state}


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics in the text exposition format."""
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TEXT})


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of every route this daemon serves."""
    return json_response(200, request.app[ROUTES].openapi())


def add_routes(routes: RouteTable) -> None:
    """Declare the system routes."""
    routes.add("GET", "/healthz", healthz, tag="system", response_schema=STATUS_SCHEMA)
    routes.add("GET", "/readyz", readyz, tag="system", response_schema=STATUS_SCHEMA)
    routes.add("GET", "/metrics", metrics, tag="system", response_type="text/plain")
    routes.add("GET", "/openapi.json", openapi, tag="system")
