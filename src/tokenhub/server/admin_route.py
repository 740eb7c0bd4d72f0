"""Admin tools: explain a routing decision, test a provider, discover its models."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from tokenhub.errors import InvalidRequestError, ProviderError
from tokenhub.providers.base import CallOptions
from tokenhub.routing.candidates import draw_pool
from tokenhub.routing.policy import Policy, RoutingSettings
from tokenhub.routing.router import Decision
from tokenhub.schemas import Capability
from tokenhub.server.app_keys import CLOCK, GATEWAY
from tokenhub.server.envelope import render
from tokenhub.server.errors import json_response
from tokenhub.server.request_input import read_json, validate
from tokenhub.server.routes import RouteTable
from tokenhub.types import ChatRequest, Message, TextPart

PROBE_TIMEOUT_S = 15.0
ID_PARAM = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]


class RouteTest(BaseModel):
    """A prompt to route, with the same hints a client could send."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1)
    model: str = "auto"
    mode: str | None = None
    min_weight: int | None = Field(None, ge=1, le=10)
    max_budget_usd: float | None = Field(None, gt=0)
    max_latency_ms: float | None = Field(None, gt=0)
    max_tokens: int | None = Field(None, ge=1)
    capabilities: list[Capability] = []
    send: bool = False


async def route_test(request: web.Request) -> web.Response:
    """Show how a prompt would be routed: every model eligible or why not, with scores.

    No provider is called unless ``send`` is true.
    """
    spec = validate(RouteTest, await read_json(request))
    chat = ChatRequest(
        model=spec.model,
        messages=[Message("user", [TextPart(spec.prompt)])],
        max_tokens=spec.max_tokens,
    )
    policy = Policy(
        mode=spec.mode,
        min_weight=spec.min_weight,
        max_budget_usd=spec.max_budget_usd,
        max_latency_ms=spec.max_latency_ms,
        capabilities=spec.capabilities,
    )
    gateway = request.app[GATEWAY]
    route = gateway.route_request(chat, policy)
    report = explain(gateway.decide(route), gateway.routing)
    if spec.send:
        done = await gateway.complete(chat, route, {})
        report["sent"] = {
            "model": done.info.model.id,
            "provider": done.info.provider.id,
            "cost_usd": round(done.cost_usd, 8),
            "attempts": [a.as_dict() for a in done.info.attempts],
            "response": render(done.response),
        }
    return json_response(200, report)


def explain(decision: Decision, settings: RoutingSettings) -> dict[str, Any]:
    """A decision as JSON: the choice, candidates by score with components, rejections.

    ``selection`` tells how the first slot was filled: the router draws it by traffic weight
    among the best ``top_k`` candidates within ``selection_margin`` of the top score (the
    ``pool``), so the choice need not be the top score; ``drawn`` says a draw took place.
    """
    # The router's own ranking: best score first, ties in model-id order (its stable sort).
    by_score = sorted(decision.ranked, key=lambda c: (-c.score, c.model.id))
    pool = [c.model.id for c in draw_pool(by_score, settings)] if by_score else []
    weights = settings.traffic_weights
    attempt = {c.model.id: order for order, c in enumerate(decision.ranked, start=1)}
    return {
        "mode": decision.mode,
        "input_tokens": decision.input_tokens,
        "output_tokens": decision.output_tokens,
        "chosen": decision.ranked[0].model.id if decision.ranked else None,
        "top": by_score[0].model.id if by_score else None,
        "reason": decision.reason,
        "selection": {
            "selection_margin": settings.selection_margin,
            "top_k": settings.top_k,
            "pool": pool,
            "drawn": len(pool) > 1 and sum(weights.get(m, 1.0) for m in pool) > 0,
        },
        "candidates": [
            {
                "model": c.model.id,
                "provider": c.model.provider,
                "weight": c.model.weight,
                "score": round(c.score, 6),
                "components": {k: round(v, 6) for k, v in c.components.items()},
                "est_cost_usd": round(c.est_cost_usd, 8),
                "expected_latency_ms": round(c.expected_latency_ms, 1),
                "attempt": attempt[c.model.id],
                "in_pool": c.model.id in pool,
                "traffic_weight": weights.get(c.model.id, 1.0),
            }
            for c in by_score
        ],
        "rejected": [{"model": r.model, "reasons": r.reasons} for r in decision.rejections],
    }


async def check_provider(request: web.Request) -> web.Response:
    """Check that a provider answers and accepts its credential (lists its models)."""
    gateway = request.app[GATEWAY]
    provider = gateway.registry.provider(request.match_info["id"]).config
    problem = gateway.credential_problem(provider)
    if problem is not None:
        return json_response(200, {"provider": provider.id, "ok": False, "error": problem})
    started = time.perf_counter()
    try:
        models = await _upstream_models(request, provider.id)
    except ProviderError as exc:
        return json_response(
            200,
            {"provider": provider.id, "ok": False, "error": exc.message, "kind": str(exc.kind)},
        )
    latency = round((time.perf_counter() - started) * 1000, 1)
    return json_response(
        200, {"provider": provider.id, "ok": True, "latency_ms": latency, "models": len(models)}
    )


async def discover(request: web.Request) -> web.Response:
    """The provider's own model list, marking which are registered here."""
    gateway = request.app[GATEWAY]
    provider = gateway.registry.provider(request.match_info["id"]).config
    try:
        upstream = await _upstream_models(request, provider.id)
    except ProviderError as exc:
        raise InvalidRequestError(
            f"could not list models of '{provider.id}': {exc.message}"
        ) from None
    registered = {
        e.config.upstream: e.config.id
        for e in gateway.registry.models.values()
        if e.config.provider == provider.id
    }
    data = [{"upstream_model": m, "registered_as": registered.get(m)} for m in sorted(upstream)]
    return json_response(200, {"provider": provider.id, "data": data})


async def _upstream_models(request: web.Request, provider_id: str) -> list[str]:
    gateway = request.app[GATEWAY]
    provider = gateway.provider(provider_id)
    deadline = request.app[CLOCK].monotonic() + PROBE_TIMEOUT_S
    options = CallOptions(deadline, gateway.api_key(provider))
    return await gateway.adapter(provider_id).list_models(options)


def add_routes(routes: RouteTable) -> None:
    """Declare the routes."""
    auth = {"tag": "admin", "auth": "adminToken"}
    schema = RouteTest.model_json_schema()
    routes.add("POST", "/admin/v1/route/test", route_test, request_schema=schema, **auth)
    routes.add("POST", "/admin/v1/providers/{id}/test", check_provider, params=ID_PARAM, **auth)
    routes.add("GET", "/admin/v1/providers/{id}/discover", discover, params=ID_PARAM, **auth)
