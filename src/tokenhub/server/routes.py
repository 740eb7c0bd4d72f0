"""A route table that records an OpenAPI operation for every route it registers.

Handlers are added through ``RouteTable`` so the OpenAPI document is built from the
same declarations that build the router; a test checks nothing bypasses it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tokenhub import __version__

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message", "request_id"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": "string"},
            },
        }
    },
}


@dataclass(slots=True)
class Operation:
    """One documented route."""

    method: str
    path: str
    handler: Handler
    tag: str
    request_schema: dict[str, Any] | None = None
    response_schema: dict[str, Any] | None = None
    response_type: str = "application/json"
    params: list[dict[str, Any]] = field(default_factory=list)
    auth: str | None = None


class RouteTable:
    """Collects routes with their documentation, then installs them on an app."""

    def __init__(self) -> None:
        self.operations: list[Operation] = []

    def add(self, method: str, path: str, handler: Handler, *, tag: str, **doc: Any) -> None:
        """Declare a route; ``doc`` fills the Operation's optional documentation fields."""
        self.operations.append(Operation(method.upper(), path, handler, tag, **doc))

    def install(self, app: web.Application) -> None:
        """Register every declared route on the app's router."""
        for op in self.operations:
            app.router.add_route(op.method, op.path, op.handler)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document describing every declared route."""
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = _operation_doc(op)
        return {
            "openapi": "3.1.0",
            "info": {"title": "tokenhub", "version": __version__},
            "paths": paths,
            "components": {
                "schemas": {"Error": ERROR_SCHEMA},
                "securitySchemes": {
                    "adminToken": {"type": "http", "scheme": "bearer"},
                    "apiKey": {"type": "http", "scheme": "bearer"},
                },
            },
        }


def _operation_doc(op: Operation) -> dict[str, Any]:
    summary, _, description = (inspect.getdoc(op.handler) or op.path).partition("\n")
    doc: dict[str, Any] = {
        "summary": summary.strip(),
        "tags": [op.tag],
        "operationId": f"{op.method.lower()}_{op.handler.__name__}",
        "responses": {
            "200": {
                "description": "Success",
                "content": {op.response_type: {"schema": op.response_schema or {}}},
            },
            "default": {
                "description": "Error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    if description.strip():
        doc["description"] = description.strip()
    if op.params:
        doc["parameters"] = op.params
    if op.request_schema is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": op.request_schema}},
        }
    if op.auth:
        doc["security"] = [{op.auth: []}]
    return doc
