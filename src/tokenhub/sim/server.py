"""The simulator's aiohttp application: one app, every provider under ``/{name}/v1``.

Handlers stay thin: record the request, let the provider's wire format parse it, let the
behaviour engine plan the answer, then write it (paced if the model is paced).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

from tokenhub.sim.core import Plan, Rendered, RequestInvalid, StreamAnswer, cut_stream
from tokenhub.sim.scenario import ADMIN_PREFIX, Override, Scenario, describe_error
from tokenhub.sim.state import Call, SimProvider, SimState, StreamRecord

SIM_STATE = web.AppKey("sim_state", SimState)

MAX_BODY_BYTES = 64 * 1024 * 1024
"""Large enough for context-overflow tests with million-token prompts."""

_HANG_POLL_S = 0.05
_NOT_JSON = object()


def create_sim_app(scenario: Scenario, *, state: SimState | None = None) -> web.Application:
    """Build the simulator app for ``scenario`` (or around an existing ``state``)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SIM_STATE] = state or SimState(scenario)
    for provider in scenario.providers:
        prefix = f"/{provider.name}/v1"
        if provider.type == "anthropic":
            app.router.add_post(f"{prefix}/messages", _chat)
        else:
            app.router.add_post(f"{prefix}/chat/completions", _chat)
        app.router.add_get(f"{prefix}/models", _models)
    app.router.add_get(f"/{ADMIN_PREFIX}/health", _health)
    app.router.add_get(f"/{ADMIN_PREFIX}/received", _received)
    app.router.add_get(f"/{ADMIN_PREFIX}/streams", _streams)
    app.router.add_post(f"/{ADMIN_PREFIX}/reset", _reset)
    app.router.add_post(f"/{ADMIN_PREFIX}/enqueue", _enqueue)
    app.router.add_get(f"/{ADMIN_PREFIX}/calls", _calls)
    app.router.add_post(f"/{ADMIN_PREFIX}/models", _set_model)
    app.on_shutdown.append(_release_waiters)
    return app


def _provider(request: web.Request) -> SimProvider:
    name = request.path.split("/", 2)[1]
    return request.app[SIM_STATE].providers[name]


async def _chat(request: web.Request) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    provider = _provider(request)
    wire = provider.wire
    raw = await request.read()
    body = _loads(raw)
    state.record(
        provider.spec.name,
        request.method,
        request.path,
        request.headers,
        None if body is _NOT_JSON else body,
        peer=_peer(request),
    )
    rejected = wire.check_headers(request.headers)
    if rejected is not None:
        return _respond(rejected)
    try:
        parsed = wire.parse(None if body is _NOT_JSON else body, request.headers)
    except RequestInvalid as exc:
        return _respond(wire.invalid(exc))
    if parsed.model not in provider.behaviour.models:
        return _respond(wire.unknown_model(parsed.model))
    plan = provider.behaviour.plan(parsed, state.clock())
    call = state.log_call(_call(provider, plan, state.clock()))
    try:
        return await _answer(request, provider, plan, call)
    finally:
        call.ended = state.clock()


def _call(provider: SimProvider, plan: Plan, now: float) -> Call:
    """The call-record entry for ``plan``, before any byte of it is written."""
    fault = plan.fault
    outcome = "hang" if plan.hang else "fault" if fault else "cut" if plan.cut else "reply"
    return Call(
        provider=provider.spec.name,
        model=plan.request.model,
        started=now,
        outcome=outcome,
        status=fault.status if fault is not None else 200,
        stream=plan.request.stream,
        retry_after=fault.retry_after if fault is not None else None,
    )


async def _answer(
    request: web.Request, provider: SimProvider, plan: Plan, call: Call
) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    if plan.delay_ms:
        await asyncio.sleep(plan.delay_ms / 1000)
    if plan.hang:
        return await _hang(request, state)
    if plan.fault is not None:
        call.completed = True
        return _respond(provider.wire.fault(plan))
    if plan.request.stream:
        answer = provider.wire.stream(plan)
        if plan.cut is not None:
            answer = cut_stream(answer, plan.cut, provider.wire.stream_error(plan.cut))
        return await _stream(request, answer, plan, call)
    await _sleep(_total_delay_s(plan))
    call.completed = True
    return _respond(provider.wire.reply(plan))


def _total_delay_s(plan: Plan) -> float:
    spec = plan.model
    tokens = plan.reply.output_tokens if plan.reply else 0
    per_token = 1 / spec.tokens_per_second if spec.tokens_per_second else 0.0
    return spec.ttft_ms / 1000 + tokens * per_token


async def _sleep(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


async def _stream(
    request: web.Request, answer: StreamAnswer, plan: Plan, call: Call
) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    response = web.StreamResponse(status=200, headers=answer.headers)
    await response.prepare(request)
    spec = plan.model
    record = state.stream_started(_provider(request).spec.name, spec.id, len(answer.events))
    try:
        if not spec.ttft_ms and not spec.tokens_per_second:
            await response.write(b"".join(e.data for e in answer.events))
            record.written = record.total
        else:
            await _write_paced(response, answer, plan, state, record)
        if record.outcome == "stopped":
            return response
        if answer.drop:
            record.outcome = "dropped"
            _drop(request)
        else:
            await response.write_eof()
            record.outcome = "complete"
        call.completed = True
    except ConnectionResetError:
        record.outcome = "client_closed"
    except asyncio.CancelledError:
        record.outcome = "client_closed"  # aiohttp cancels the handler when the client leaves
        raise
    return response


def _drop(request: web.Request) -> None:
    """Close the connection mid-body: what was written is flushed, no terminator follows."""
    if request.transport is not None:
        request.transport.close()


async def _write_paced(
    response: web.StreamResponse,
    answer: StreamAnswer,
    plan: Plan,
    state: SimState,
    record: StreamRecord,
) -> None:
    spec = plan.model
    gap = 1 / spec.tokens_per_second if spec.tokens_per_second else 0.0
    first = True
    for event in answer.events:
        if event.paced:
            await _sleep(spec.ttft_ms / 1000 if first else gap)
            first = False
        if state.stopping.is_set():
            record.outcome = "stopped"
            return
        await response.write(event.data)
        record.written += 1


async def _hang(request: web.Request, state: SimState) -> web.StreamResponse:
    """Accept the request and answer nothing until the client leaves or the server stops."""
    while not state.stopping.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), _HANG_POLL_S)
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=499)


async def _release_waiters(app: web.Application) -> None:
    app[SIM_STATE].stopping.set()


async def _models(request: web.Request) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    provider = _provider(request)
    state.record(
        provider.spec.name, request.method, request.path, request.headers, None, peer=_peer(request)
    )
    rejected = provider.wire.check_headers(request.headers)
    return _respond(rejected or provider.wire.models(provider.spec))


async def _health(request: web.Request) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    return _json({"status": "ok", "providers": list(state.providers)})


async def _received(request: web.Request) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    name = request.query.get("provider")
    records = state.received if name is None else state.received_by(name)
    return _json({"received": [r.as_dict() for r in records]})


async def _streams(request: web.Request) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    return _json({"streams": [s.as_dict() for s in state.streams]})


async def _reset(request: web.Request) -> web.StreamResponse:
    request.app[SIM_STATE].reset()
    return _json({"status": "ok"})


async def _enqueue(request: web.Request) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    body = _loads(await request.read())
    if not isinstance(body, dict) or body.get("provider") not in state.providers:
        return _json({"error": "the body needs 'provider', naming a served provider"}, 400)
    fields = {k: v for k, v in body.items() if k != "provider"}
    try:
        override = Override.model_validate(fields)
    except ValidationError as exc:
        return _json({"error": describe_error(exc, "enqueue")}, 400)
    state.enqueue(body["provider"], override)
    return _json({"status": "ok"})


async def _calls(request: web.Request) -> web.StreamResponse:
    state = request.app[SIM_STATE]
    name = request.query.get("provider")
    calls = state.calls if name is None else state.calls_to(name)
    return _json({"calls": [c.as_dict() for c in calls]})


async def _set_model(request: web.Request) -> web.StreamResponse:
    """Change one model's behaviour at run time: ``{"provider", "model", **ModelSpec fields}``."""
    state = request.app[SIM_STATE]
    body = _loads(await request.read())
    if not isinstance(body, dict):
        return _json({"error": "the body must be a JSON object"}, 400)
    provider, model = str(body.get("provider")), body.get("model")
    served = state.providers.get(provider)
    if served is None or model not in served.behaviour.models:
        return _json({"error": "the body needs 'provider' and 'model', naming a served model"}, 400)
    changes = {k: v for k, v in body.items() if k not in ("provider", "model")}
    try:
        spec = state.set_model(provider, model, changes)
    except ValidationError as exc:
        return _json({"error": describe_error(exc, "models")}, 400)
    return _json({"status": "ok", "model": spec.model_dump(mode="json")})


def _peer(request: web.Request) -> str | None:
    """The client's ``host:port``: one value per connection, so reuse is visible."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else None


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _respond(rendered: Rendered) -> web.Response:
    return web.Response(status=rendered.status, headers=rendered.headers, body=rendered.body)


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")
