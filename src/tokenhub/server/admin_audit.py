"""``GET /admin/v1/audit``: the audit log, filtered and paged."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from tokenhub.server.app_keys import ENGINE, WRITER
from tokenhub.server.errors import json_response
from tokenhub.server.request_input import validate
from tokenhub.server.routes import RouteTable
from tokenhub.store.audit_store import AuditQuery, query_audit


class AuditParams(BaseModel):
    """Query-string parameters of the audit endpoint."""

    model_config = ConfigDict(extra="forbid")

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    outcome: str | None = None
    since: float | None = None
    until: float | None = None
    before: int | None = Field(None, ge=1)
    after: int | None = Field(None, ge=0)
    limit: int = Field(100, ge=1, le=1000)


PARAMS = [
    {"name": name, "in": "query", "required": False, "schema": schema}
    for name, schema in (
        ("actor", {"type": "string"}),
        ("action", {"type": "string"}),
        ("target", {"type": "string"}),
        ("outcome", {"type": "string"}),
        ("since", {"type": "number"}),
        ("until", {"type": "number"}),
        ("before", {"type": "integer"}),
        ("after", {"type": "integer"}),
        ("limit", {"type": "integer"}),
    )
]


async def list_audit(request: web.Request) -> web.Response:
    """Audit rows, newest first; ``before`` pages back, ``after`` follows new rows.

    Pending rows are flushed first, so an action is visible as soon as it returned.
    """
    params = validate(AuditParams, dict(request.query))
    await request.app[WRITER].flush_all()
    rows = await query_audit(request.app[ENGINE], AuditQuery(**params.model_dump()))
    cursor: Any = None
    if rows and params.after is None and len(rows) == params.limit:
        cursor = rows[-1]["id"]
    return json_response(200, {"data": rows, "next_cursor": cursor})


def add_routes(routes: RouteTable) -> None:
    """Declare the route."""
    routes.add("GET", "/admin/v1/audit", list_audit, tag="admin", auth="adminToken", params=PARAMS)
