"""``/admin/v1/tsdb/*``: the embedded time-series store's query API, and its lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from tokenhub.errors import InvalidRequestError
from tokenhub.observability.tsdb import TIER_NAMES, TIERS, Tsdb, retention_s
from tokenhub.observability.tsdb_query import METRICS, Group, Plan, Series, plan_query
from tokenhub.server.app_keys import CLOCK, ENGINE, SETTINGS, TSDB, TSDB_STORE
from tokenhub.server.errors import json_response
from tokenhub.server.request_input import validate
from tokenhub.server.routes import RouteTable
from tokenhub.store.migrate import current_revision, head_revision
from tokenhub.store.tsdb_store import TsdbStore

DEFAULT_RANGE_S = 3600.0


class QueryParams(BaseModel):
    """Query-string parameters of the TSDB query endpoint."""

    model_config = ConfigDict(extra="forbid")

    metric: str
    model: str | None = None
    provider: str | None = None
    from_: float | None = Field(None, alias="from", allow_inf_nan=False)
    to: float | None = Field(None, allow_inf_nan=False)
    step: float | None = Field(None, gt=0, allow_inf_nan=False)
    group: Group = "series"


PARAMS = [
    {"name": name, "in": "query", "required": name == "metric", "schema": schema}
    for name, schema in (
        ("metric", {"type": "string", "enum": sorted(METRICS)}),
        ("model", {"type": "string"}),
        ("provider", {"type": "string"}),
        ("from", {"type": "number"}),
        ("to", {"type": "number"}),
        ("step", {"type": "number", "exclusiveMinimum": 0}),
        ("group", {"type": "string", "enum": ["series", "model", "provider", "none"]}),
    )
]
POINT = {"type": "array", "prefixItems": [{"type": "number"}, {"type": ["number", "null"]}]}
SERIES = {
    "type": "object",
    "properties": {
        "model": {"type": ["string", "null"]},
        "provider": {"type": ["string", "null"]},
        "points": {"type": "array", "items": POINT},
    },
}
QUERY_RESPONSE = {
    "type": "object",
    "required": ["metric", "unit", "from", "to", "step", "tier", "series"],
    "properties": {
        "metric": {"type": "string"},
        "unit": {"type": "string"},
        "from": {"type": "number"},
        "to": {"type": "number"},
        "step": {"type": "integer"},
        "tier": {"type": "string", "enum": list(TIER_NAMES.values())},
        "series": {"type": "array", "items": SERIES},
    },
}


async def query_tsdb(request: web.Request) -> web.Response:
    """One metric's series over a time range, per model and provider or aggregated.

    ``from``/``to`` are UNIX seconds (negative: relative to now); the default is the last
    hour. ``step`` is rounded up to a multiple of the finest resolution still kept at
    ``from``; by default about 360 points. Rates are per second; ``cost_usd`` is a sum.
    """
    params = validate(QueryParams, dict(request.query))
    if params.metric not in METRICS:
        raise InvalidRequestError(
            f"metric: unknown metric '{params.metric}' (see GET /admin/v1/tsdb/metrics)",
            param="metric",
        )
    plan = _plan(request.app, params)
    series = await request.app[TSDB_STORE].query(
        params.metric, plan, model=params.model, provider=params.provider, group=params.group
    )
    return json_response(200, _render(params.metric, plan, series))


def _plan(app: web.Application, params: QueryParams) -> Plan:
    now = app[CLOCK].time()
    end = now if params.to is None else _absolute(params.to, now)
    start = end - DEFAULT_RANGE_S if params.from_ is None else _absolute(params.from_, now)
    return plan_query(start, end, params.step, now, app[SETTINGS].settings.tsdb)


def _absolute(ts: float, now: float) -> float:
    return now + ts if ts < 0 else ts


def _render(metric: str, plan: Plan, series: list[Series]) -> dict[str, Any]:
    return {
        "metric": metric,
        "unit": METRICS[metric].unit,
        "from": plan.start,
        "to": plan.end,
        "step": plan.step,
        "tier": TIER_NAMES[plan.tier],
        "series": [
            {"model": s.model, "provider": s.provider, "points": [list(p) for p in s.points]}
            for s in series
        ],
    }


async def list_metrics(request: web.Request) -> web.Response:
    """The metrics the TSDB query serves, with units, and each resolution's retention."""
    settings = request.app[SETTINGS].settings.tsdb
    metrics = [
        {"name": name, "unit": m.unit, "description": m.description} for name, m in METRICS.items()
    ]
    tiers = [
        {"tier": TIER_NAMES[t], "resolution_s": t, "retention_s": retention_s(settings, t)}
        for t in TIERS
    ]
    return json_response(200, {"data": metrics, "tiers": tiers})


def add_routes(routes: RouteTable) -> None:
    """Declare the routes."""
    admin: dict[str, Any] = {"tag": "admin", "auth": "adminToken"}
    routes.add(
        "GET",
        "/admin/v1/tsdb/query",
        query_tsdb,
        params=PARAMS,
        response_schema=QUERY_RESPONSE,
        **admin,
    )
    routes.add("GET", "/admin/v1/tsdb/metrics", list_metrics, **admin)


async def tsdb_context(app: web.Application) -> AsyncIterator[None]:
    """The Tsdb and its store: persisted while the app runs, the open bucket saved on exit."""
    tsdb = Tsdb(app[CLOCK], app[SETTINGS].settings.tsdb)
    store = TsdbStore(app[ENGINE], tsdb)
    app[TSDB] = tsdb
    app[TSDB_STORE] = store
    persisted = await current_revision(app[ENGINE]) == head_revision()
    if persisted:
        await store.start()
    try:
        yield
    finally:
        if persisted:
            await store.stop()
