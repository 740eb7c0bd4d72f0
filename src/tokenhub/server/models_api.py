"""``GET /v1/models`` and ``/v1/models/{id}``: what a client may name as ``model``.

Enabled models, aliases and routing targets, in the format of the SDK asking: Anthropic's
(``type: model``, ``display_name``, ``created_at``, cursor pages) when the request carries
the ``anthropic-version`` header every Anthropic SDK sends, OpenAI's list otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tokenhub.errors import InvalidRequestError, ModelNotFoundError
from tokenhub.routing.policy import routing_targets
from tokenhub.server.app_keys import GATEWAY, STARTED_AT
from tokenhub.server.errors import is_anthropic_client, json_response
from tokenhub.server.routes import RouteTable

ANTHROPIC_DEFAULT_LIMIT = 20
ANTHROPIC_MAX_LIMIT = 1000
ID_PARAM = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]


@dataclass(frozen=True, slots=True)
class _Entry:
    id: str
    owner: str
    display_name: str


def _entries(app: web.Application) -> list[_Entry]:
    gateway = app[GATEWAY]
    out = []
    for entry in sorted(gateway.registry.models.values(), key=lambda e: e.config.id):
        model = entry.config
        provider = gateway.registry.providers[model.provider].config
        if model.enabled and provider.enabled:
            out.append(_Entry(model.id, provider.id, f"{model.id} ({provider.id})"))
    out.extend(_Entry(a, "tokenhub-alias", f"{a} (alias)") for a in gateway.registry.aliases())
    targets = routing_targets(gateway.routing)
    out.extend(_Entry(t, "tokenhub", f"{t} (routed by tokenhub)") for t in targets)
    return out


async def list_models(request: web.Request) -> web.Response:
    """Every enabled model, alias and routing target a client may name as ``model``."""
    entries = _entries(request.app)
    if is_anthropic_client(request):
        return json_response(200, _anthropic_page(request, entries))
    created = int(request.app[STARTED_AT])
    return json_response(
        200, {"object": "list", "data": [_openai_card(e, created) for e in entries]}
    )


async def get_model(request: web.Request) -> web.Response:
    """One model, alias or routing target; 404 ``model_not_found`` for anything else."""
    wanted = request.match_info["id"]
    entry = next((e for e in _entries(request.app) if e.id == wanted), None)
    if entry is None:
        raise ModelNotFoundError(f"the model '{wanted}' does not exist")
    if is_anthropic_client(request):
        return json_response(200, _anthropic_card(entry, request.app[STARTED_AT]))
    return json_response(200, _openai_card(entry, int(request.app[STARTED_AT])))


def _openai_card(entry: _Entry, created: int) -> dict[str, Any]:
    return {"id": entry.id, "object": "model", "created": created, "owned_by": entry.owner}


def _anthropic_card(entry: _Entry, started_at: float) -> dict[str, Any]:
    created = datetime.fromtimestamp(started_at, UTC).isoformat().replace("+00:00", "Z")
    return {
        "type": "model",
        "id": entry.id,
        "display_name": entry.display_name,
        "created_at": created,
    }


def _anthropic_page(request: web.Request, entries: list[_Entry]) -> dict[str, Any]:
    """Anthropic's cursor page: ``limit`` items after ``after_id``, or before ``before_id``."""
    query = request.query
    limit = _limit(query.get("limit"))
    ids = [e.id for e in entries]
    if "before_id" in query:
        stop = ids.index(query["before_id"]) if query["before_id"] in ids else 0
        start = max(0, stop - limit)
        window, has_more = entries[start:stop], start > 0
    else:
        after = query.get("after_id")
        start = 0 if after is None else (ids.index(after) + 1 if after in ids else len(ids))
        window, has_more = entries[start : start + limit], start + limit < len(entries)
    started_at = request.app[STARTED_AT]
    return {
        "data": [_anthropic_card(e, started_at) for e in window],
        "has_more": has_more,
        "first_id": window[0].id if window else None,
        "last_id": window[-1].id if window else None,
    }


def _limit(raw: str | None) -> int:
    if raw is None:
        return ANTHROPIC_DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= ANTHROPIC_MAX_LIMIT:
        raise InvalidRequestError(
            f"limit: expected an integer from 1 to {ANTHROPIC_MAX_LIMIT}", param="limit"
        )
    return int(raw)


def add_routes(routes: RouteTable) -> None:
    """Declare the routes."""
    routes.add("GET", "/v1/models", list_models, tag="consumer", auth="apiKey")
    routes.add("GET", "/v1/models/{id}", get_model, tag="consumer", auth="apiKey", params=ID_PARAM)
