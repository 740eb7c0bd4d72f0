"""Admin API for the registry: providers, models, routing settings, and route tests."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tokenhub.errors import ConflictError, InvalidRequestError
from tokenhub.registry import ModelEntry, ProviderEntry
from tokenhub.routing.policy import RoutingSettings
from tokenhub.schemas import ModelConfig, ProviderConfig, public_provider
from tokenhub.server.admin_auth import ADMIN_ACTOR
from tokenhub.server.app_keys import GATEWAY, REDACTOR, SETTINGS
from tokenhub.server.audit import audit
from tokenhub.server.errors import json_response
from tokenhub.server.request_input import read_json, validate
from tokenhub.server.routes import RouteTable

PROVIDER_SCHEMA = ProviderConfig.model_json_schema()
MODEL_SCHEMA = ModelConfig.model_json_schema()
ROUTING_SCHEMA = RoutingSettings.model_json_schema()
ID_PARAM = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]


def provider_view(request: web.Request, entry: ProviderEntry) -> dict[str, Any]:
    """A provider as the API shows it: its config (secret headers masked) and source."""
    data = public_provider(entry.config)
    data["headers"] = request.app[REDACTOR].value(data["headers"], "headers_")
    data["headers"] = {
        k: request.app[REDACTOR].value(v, k) for k, v in entry.config.headers.items()
    }
    return {**data, "source": entry.source}


def model_view(entry: ModelEntry) -> dict[str, Any]:
    """A model as the API shows it."""
    return {**entry.config.model_dump(mode="json"), "source": entry.source}


async def list_providers(request: web.Request) -> web.Response:
    """Every provider, from the config file and the API."""
    registry = request.app[GATEWAY].registry
    entries = sorted(registry.providers.values(), key=lambda e: e.config.id)
    return json_response(200, {"data": [provider_view(request, e) for e in entries]})


async def get_provider(request: web.Request) -> web.Response:
    """One provider."""
    entry = request.app[GATEWAY].registry.provider(request.match_info["id"])
    return json_response(200, provider_view(request, entry))


async def create_provider(request: web.Request) -> web.Response:
    """Create a provider; 400 names the bad field, 409 if the id exists."""
    _refuse_in_demo(request)
    config = validate(ProviderConfig, await read_json(request))
    gateway = request.app[GATEWAY]
    await gateway.add_provider(config)
    audit(request.app, request[ADMIN_ACTOR], "provider.create", target=config.id)
    return json_response(201, provider_view(request, gateway.registry.provider(config.id)))


async def update_provider(request: web.Request) -> web.Response:
    """Change some fields of a provider; the result is validated as a whole."""
    _refuse_in_demo(request)
    gateway = request.app[GATEWAY]
    entry = gateway.registry.provider(request.match_info["id"])
    merged = _merge(entry.config.model_dump(), await read_json(request), entry.config.id)
    config = validate(ProviderConfig, merged)
    await gateway.replace_provider(config)
    audit(request.app, request[ADMIN_ACTOR], "provider.update", target=config.id)
    return json_response(200, provider_view(request, gateway.registry.provider(config.id)))


async def delete_provider(request: web.Request) -> web.Response:
    """Delete a provider that has no models."""
    _refuse_in_demo(request)
    provider_id = request.match_info["id"]
    await request.app[GATEWAY].remove_provider(provider_id)
    audit(request.app, request[ADMIN_ACTOR], "provider.delete", target=provider_id)
    return json_response(200, {"deleted": provider_id})


async def list_model_entries(request: web.Request) -> web.Response:
    """Every model, from the config file and the API."""
    registry = request.app[GATEWAY].registry
    entries = sorted(registry.models.values(), key=lambda e: e.config.id)
    return json_response(200, {"data": [model_view(e) for e in entries]})


async def get_model(request: web.Request) -> web.Response:
    """One model."""
    return json_response(
        200, model_view(request.app[GATEWAY].registry.model(request.match_info["id"]))
    )


async def create_model(request: web.Request) -> web.Response:
    """Create a model; its provider must exist."""
    _refuse_in_demo(request)
    config = validate(ModelConfig, await read_json(request))
    gateway = request.app[GATEWAY]
    await gateway.add_model(config)
    audit(request.app, request[ADMIN_ACTOR], "model.create", target=config.id)
    return json_response(201, model_view(gateway.registry.model(config.id)))


async def update_model(request: web.Request) -> web.Response:
    """Change some fields of a model; the result is validated as a whole."""
    _refuse_in_demo(request)
    gateway = request.app[GATEWAY]
    entry = gateway.registry.model(request.match_info["id"])
    merged = _merge(entry.config.model_dump(), await read_json(request), entry.config.id)
    config = validate(ModelConfig, merged)
    await gateway.replace_model(config)
    audit(request.app, request[ADMIN_ACTOR], "model.update", target=config.id)
    return json_response(200, model_view(gateway.registry.model(config.id)))


async def delete_model(request: web.Request) -> web.Response:
    """Delete a model."""
    _refuse_in_demo(request)
    model_id = request.match_info["id"]
    await request.app[GATEWAY].remove_model(model_id)
    audit(request.app, request[ADMIN_ACTOR], "model.delete", target=model_id)
    return json_response(200, {"deleted": model_id})


async def get_routing(request: web.Request) -> web.Response:
    """The routing settings: mode profiles, headroom, attempt budget, traffic weights."""
    return json_response(200, request.app[GATEWAY].routing.model_dump(mode="json"))


async def update_routing(request: web.Request) -> web.Response:
    """Change routing settings; ``profiles`` merge per mode. Persisted."""
    gateway = request.app[GATEWAY]
    patch = await read_json(request)
    current = gateway.routing.model_dump(mode="json")
    if isinstance(patch.get("profiles"), dict):
        patch = {**patch, "profiles": {**current["profiles"], **patch["profiles"]}}
    settings = validate(RoutingSettings, {**current, **patch})
    await gateway.set_routing(settings)
    audit(request.app, request[ADMIN_ACTOR], "routing.update", details={"keys": sorted(patch)})
    return json_response(200, settings.model_dump(mode="json"))


def _merge(current: dict[str, Any], patch: dict[str, Any], entity_id: str) -> dict[str, Any]:
    if "id" in patch and patch["id"] != entity_id:
        raise InvalidRequestError("id cannot be changed", param="id")
    return {**current, **patch}


def add_routes(routes: RouteTable) -> None:
    """Declare the registry routes."""
    auth = {"tag": "admin", "auth": "adminToken"}
    routes.add("GET", "/admin/v1/providers", list_providers, **auth)
    routes.add(
        "POST", "/admin/v1/providers", create_provider, request_schema=PROVIDER_SCHEMA, **auth
    )
    routes.add("GET", "/admin/v1/providers/{id}", get_provider, params=ID_PARAM, **auth)
    routes.add("PATCH", "/admin/v1/providers/{id}", update_provider, params=ID_PARAM, **auth)
    routes.add("DELETE", "/admin/v1/providers/{id}", delete_provider, params=ID_PARAM, **auth)
    routes.add("GET", "/admin/v1/models", list_model_entries, **auth)
    routes.add("POST", "/admin/v1/models", create_model, request_schema=MODEL_SCHEMA, **auth)
    routes.add("GET", "/admin/v1/models/{id}", get_model, params=ID_PARAM, **auth)
    routes.add("PATCH", "/admin/v1/models/{id}", update_model, params=ID_PARAM, **auth)
    routes.add("DELETE", "/admin/v1/models/{id}", delete_model, params=ID_PARAM, **auth)
    routes.add("GET", "/admin/v1/routing", get_routing, **auth)
    routes.add("PATCH", "/admin/v1/routing", update_routing, request_schema=ROUTING_SCHEMA, **auth)


def _refuse_in_demo(request: web.Request) -> None:
    """Registry changes would land in demo mode's throwaway store and vanish at stop."""
    if request.app[SETTINGS].settings.demo:
        raise ConflictError(
            "this daemon runs in demo mode on a throwaway store, so providers and models "
            "added here would be lost; stop it and start 'tokenhub serve' (or declare them "
            "in config/config.yaml) to configure real providers"
        )
