"""``POST /v1/chat``: tokenhub's own envelope, reporting the whole routing decision."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from tokenhub.errors import ErrorKind, InvalidRequestError, ProviderError
from tokenhub.providers.wire import openai as openai_wire
from tokenhub.routing.policy import Policy
from tokenhub.schemas import Capability
from tokenhub.server.app_keys import GATEWAY, TRACING
from tokenhub.server.budget import hold_budget, released_on_error
from tokenhub.server.consumer import record_cut_short
from tokenhub.server.consumer_auth import API_KEY, allowed_models
from tokenhub.server.decision_headers import decision_headers
from tokenhub.server.errors import json_response
from tokenhub.server.middleware import REQUEST_ID
from tokenhub.server.request_input import read_json, validate
from tokenhub.server.request_log import RequestSummary, log_request
from tokenhub.server.routes import RouteTable
from tokenhub.types import ChatResponse, ThinkingPart


class EnvelopeRequest(BaseModel):
    """The ``request`` part: OpenAI-style messages plus what tokenhub should know."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, max_length=128)
    model: str = "auto"
    messages: list[dict[str, Any]] = Field(min_length=1)
    estimated_input_tokens: int | None = Field(None, ge=0)
    max_tokens: int | None = Field(None, ge=1)
    tools: list[dict[str, Any]] | None = None
    meta: dict[str, Any] = {}


class Envelope(BaseModel):
    """The whole ``/v1/chat`` body."""

    model_config = ConfigDict(extra="forbid")

    capabilities: list[Capability] = []
    policy: Policy = Policy()
    request: EnvelopeRequest


ENVELOPE_SCHEMA = Envelope.model_json_schema()


async def chat(request: web.Request) -> web.Response:
    """Route one request and report the decision: model, provider, costs, reason, attempts."""
    with request.app[TRACING].request("tokenhub.request", request.headers, endpoint="/v1/chat"):
        return await _chat(request)


async def _chat(request: web.Request) -> web.Response:
    started = time.perf_counter()
    envelope = validate(Envelope, await read_json(request))
    inner = envelope.request
    wire: dict[str, Any] = {"model": inner.model, "messages": inner.messages}
    if inner.max_tokens is not None:
        wire["max_tokens"] = inner.max_tokens
    if inner.tools is not None:
        wire["tools"] = inner.tools
    canonical = _parse(wire)
    policy = envelope.policy.merged({"capabilities": envelope.capabilities or None})
    gateway = request.app[GATEWAY]
    key = request.get(API_KEY)
    route = gateway.route_request(
        canonical,
        policy,
        allowed_models=allowed_models(key),
        estimated_input_tokens=inner.estimated_input_tokens,
    )
    request_id = inner.id or request[REQUEST_ID]
    summary = RequestSummary(request_id, "/v1/chat", mode=route.mode, key=key)
    hold_budget(request.app, summary, route)
    try:
        with released_on_error(request.app, summary):
            done = await gateway.complete(canonical, route, {})
    except ProviderError as exc:
        if exc.kind is ErrorKind.FATAL:
            raise InvalidRequestError(f"the provider rejected the request: {exc.message}") from None
        raise
    except (ConnectionError, asyncio.CancelledError) as exc:
        record_cut_short(request, summary, started, exc)
        raise
    info = done.info
    summary.info, summary.usage, summary.cost_usd = info, done.response.usage, done.cost_usd
    summary.latency_ms = (time.perf_counter() - started) * 1000
    log_request(request.app, summary)
    body = {
        "request_id": request_id,
        "negotiated_model": info.model.id,
        "provider": info.provider.id,
        "estimated_cost_usd": round(info.estimated_cost_usd, 8),
        "cost_usd": round(done.cost_usd, 8),
        "routing_reason": info.decision.reason,
        "attempts": [a.as_dict() for a in info.attempts],
        "response": render(done.response),
    }
    return json_response(200, body, decision_headers(request_id, info, done.cost_usd))


def _parse(wire: dict[str, Any]) -> Any:
    try:
        return openai_wire.parse_request(wire)
    except InvalidRequestError as exc:
        raise InvalidRequestError(exc.message, param=f"request.{exc.param}") from None


def render(response: ChatResponse) -> dict[str, Any]:
    """The envelope's neutral rendering of a response.

    Thinking is listed whole (text, seal, redacted payload); what the upstream answered
    that tokenhub does not model, and what of the request could not be sent, are
    ``warnings``.
    """
    message = response.message
    out: dict[str, Any] = {
        "role": "assistant",
        "content": message.text(),
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls
        ],
    }
    thinking = [p for p in message.content if isinstance(p, ThinkingPart)]
    if thinking:
        out["thinking"] = [
            {"text": p.text, "signature": p.signature, "redacted": p.redacted} for p in thinking
        ]
    rendered: dict[str, Any] = {
        "message": out,
        "finish_reason": response.finish_reason,
        "usage": {
            "input_tokens": response.usage.input_tokens,
            "output_tokens": response.usage.output_tokens,
            "cache_read_tokens": response.usage.cache_read_tokens,
            "cache_write_tokens": response.usage.cache_write_tokens,
            "reasoning_tokens": response.usage.reasoning_tokens,
        },
    }
    notes = [*response.notes, *response.unmapped]
    if notes:
        rendered["warnings"] = [str(note) for note in notes]
    return rendered


def add_routes(routes: RouteTable) -> None:
    """Declare the route."""
    routes.add(
        "POST", "/v1/chat", chat, tag="consumer", auth="apiKey", request_schema=ENVELOPE_SCHEMA
    )
