"""``GET /v1/models``: enabled models, aliases and routing targets, in OpenAI's list format."""

from __future__ import annotations

from aiohttp import web

from tokenhub.routing.policy import routing_targets
from tokenhub.server.errors import json_response
from tokenhub.server.keys import GATEWAY, STARTED_AT
from tokenhub.server.routes import RouteTable


async def list_models(request: web.Request) -> web.Response:
    """Every enabled model, alias and routing target a client may name as ``model``."""
    gateway = request.app[GATEWAY]
    created = int(request.app[STARTED_AT])
    data = []
    for entry in sorted(gateway.registry.models.values(), key=lambda e: e.config.id):
        model = entry.config
        provider = gateway.registry.providers[model.provider].config
        if model.enabled and provider.enabled:
            data.append(_card(model.id, provider.id, created))
    data.extend(_card(alias, "tokenhub-alias", created) for alias in gateway.registry.aliases())
    data.extend(_card(t, "tokenhub", created) for t in routing_targets(gateway.routing))
    return json_response(200, {"object": "list", "data": data})


def _card(model_id: str, owner: str, created: int) -> dict[str, object]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owner}


def add_routes(routes: RouteTable) -> None:
    """Declare the route."""
    routes.add("GET", "/v1/models", list_models, tag="consumer", auth="apiKey")
