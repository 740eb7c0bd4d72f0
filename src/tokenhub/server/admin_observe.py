"""Operator views: the live event stream, provider/model health, the request log."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

import orjson
from aiohttp import web
from aiohttp_sse import sse_response
from pydantic import BaseModel, ConfigDict, Field

from tokenhub.observability.events import BusClosedError
from tokenhub.routing.health import Health, HealthTracker
from tokenhub.server.app_keys import ENGINE, EVENTS, GATEWAY, WRITER
from tokenhub.server.errors import json_response
from tokenhub.server.request_input import validate
from tokenhub.server.routes import RouteTable
from tokenhub.store.request_log_store import RequestQuery, query_requests

SSE_PING_S = 15.0


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: routing decisions, failovers, health changes, admin actions.

    Each event's SSE ``event`` is its type and ``data`` its JSON. A reader that falls
    behind loses events (its queue is bounded) and first receives a ``dropped`` event
    with the count.
    """
    subscription = request.app[EVENTS].subscribe()
    try:
        async with sse_response(request, ping_interval=SSE_PING_S) as stream:
            await stream.send(orjson.dumps({"type": "hello"}).decode(), event="hello")
            with contextlib.suppress(ConnectionResetError, BusClosedError):
                while stream.is_connected():
                    try:
                        event = await asyncio.wait_for(subscription.next(), SSE_PING_S)
                    except TimeoutError:
                        continue  # re-check the connection; aiohttp-sse sends the pings
                    payload = orjson.dumps(event.as_dict()).decode()
                    await stream.send(payload, id=str(event.seq), event=event.type)
            return stream
    finally:
        subscription.close()


async def health(request: web.Request) -> web.Response:
    """Every provider and model: state, error rate, latency, cooldown left, last error."""
    return json_response(200, health_report(request.app))


def health_report(app: web.Application) -> dict[str, Any]:
    """The health view shared by the API, the CLI and the web admin."""
    gateway = app[GATEWAY]
    tracker = gateway.health
    now = tracker.clock.monotonic()
    providers = []
    for entry in sorted(gateway.registry.providers.values(), key=lambda e: e.config.id):
        config = entry.config
        record = tracker.providers.get(config.id)
        adapter = gateway.pool.get(config.id) if config.id in gateway.pool else None
        snapshot = adapter.ratelimit if adapter is not None else None
        providers.append(
            {
                **_record(record, tracker, now),
                "id": config.id,
                "enabled": config.enabled,
                "credential": gateway.credential_problem(config) or "ok",
                "endpoints": [
                    {
                        "url": e.url,
                        "healthy": e.healthy,
                        "in_flight": e.in_flight,
                        "last_error": e.last_error,
                    }
                    for e in (adapter.endpoints() if adapter is not None else [])
                ],
                "ratelimit": None
                if snapshot is None
                else {
                    "remaining_requests": snapshot.remaining_requests,
                    "remaining_tokens": snapshot.remaining_tokens,
                },
            }
        )
    models = [
        {
            **_record(tracker.models.get(e.config.id), tracker, now),
            "id": e.config.id,
            "provider": e.config.provider,
            "enabled": e.config.enabled,
        }
        for e in sorted(gateway.registry.models.values(), key=lambda e: e.config.id)
    ]
    return {"providers": providers, "models": models}


def _record(record: Health | None, tracker: HealthTracker, now: float) -> dict[str, Any]:
    """A health record as the view shows it; a read: an expired cooldown shows as half-open."""
    record = record or Health()
    latency = record.latency_ewma_s
    return {
        "state": record.effective_state(now),
        "error_rate": round(record.error_rate(now, tracker.settings.error_halflife_s), 4),
        "latency_ms": None if latency is None else round(latency * 1000, 1),
        "cooldown_left_s": round(record.cooldown_left(now), 3),
        "consecutive_failures": record.consecutive_failures,
        "requests": record.requests,
        "failures": record.failures,
        "last_error": record.last_error,
        "last_error_kind": record.last_error_kind,
    }


class RequestParams(BaseModel):
    """Query parameters of the request log."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    provider: str | None = None
    status: Literal["ok", "error", "client_closed"] | None = None
    endpoint: str | None = None
    key: str | None = None
    mode: str | None = None
    request_id: str | None = None
    since: float | None = None
    until: float | None = None
    before: int | None = Field(None, ge=1)
    after: int | None = Field(None, ge=0)
    limit: int = Field(100, ge=1, le=1000)


async def requests_log(request: web.Request) -> web.Response:
    """The request log, newest first: model, provider, attempts, tokens, cost, latency, status.

    No prompt or completion is ever stored. ``before`` pages back, ``after`` follows.
    """
    params = validate(RequestParams, dict(request.query))
    await request.app[WRITER].flush_all()
    rows = await query_requests(request.app[ENGINE], RequestQuery(**params.model_dump()))
    cursor = rows[-1]["id"] if rows and params.after is None and len(rows) == params.limit else None
    return json_response(200, {"data": rows, "next_cursor": cursor})


def _query_params(model: type[BaseModel]) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in model.model_fields
    ]


def add_routes(routes: RouteTable) -> None:
    """Declare the routes."""
    auth = {"tag": "admin", "auth": "adminToken"}
    routes.add("GET", "/admin/v1/events", events, response_type="text/event-stream", **auth)
    routes.add("GET", "/admin/v1/health", health, **auth)
    routes.add(
        "GET", "/admin/v1/requests", requests_log, params=_query_params(RequestParams), **auth
    )
