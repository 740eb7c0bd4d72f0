"""W3C trace context reaches providers; with OTLP configured, spans reach a collector."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tokenhub.observability.tracing import TraceParent, parse_traceparent
from tokenhub.schemas import ModelConfig
from tokenhub.sim import ModelSpec, ProviderSpec, Scenario
from tokenhub.testing.polling import async_wait_until
from tokenhub.testing.stack import gateway_stack, provider_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
SCENARIO = Scenario(
    seed=1, providers=(ProviderSpec(name="p", type="openai", models=(ModelSpec(id="m"),)),)
)


def registry(sim):
    """One simulated provider and model."""
    return [provider_for(sim, "p")], [ModelConfig(id="m", provider="p")]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (INCOMING, True),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", False),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", False),
        ("garbage", False),
        (None, False),
    ],
)
def test_parse_traceparent(value, valid):
    """Only well-formed version-00 trace contexts with non-zero ids are accepted."""
    assert (parse_traceparent(value) is not None) is valid


def test_child_keeps_trace_and_flags():
    """A child context has the same trace id and flags and a new span id."""
    parent = TraceParent(TRACE_ID, "00f067aa0ba902b7", "01")
    child = parse_traceparent(parent.child())
    assert child is not None
    assert (child.trace_id, child.flags) == (TRACE_ID, "01")
    assert child.span_id != parent.span_id


async def chat(stack, headers: dict[str, str]) -> None:
    """One request with the given headers."""
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with stack.client.post("/v1/chat/completions", json=body, headers=headers) as r:
        assert r.status == 200


async def test_traceparent_propagates_to_the_provider(tokenhub_home):
    """The provider receives the caller's trace id with a fresh span id, and tracestate."""
    async with gateway_stack(SCENARIO, registry) as stack:
        await chat(stack, {"traceparent": INCOMING, "tracestate": "vendor=1"})
        await chat(stack, {})
        await chat(stack, {"traceparent": "not-a-trace"})
        first, second, third = [r.headers for r in stack.sim.received]
    upstream = parse_traceparent(first["traceparent"])
    assert upstream is not None
    assert upstream.trace_id == TRACE_ID
    assert upstream.span_id != "00f067aa0ba902b7"
    assert first["tracestate"] == "vendor=1"
    assert "traceparent" not in second
    assert "traceparent" not in third


async def test_spans_exported_over_otlp(tokenhub_home):
    """With an OTLP endpoint, request, routing and attempt spans reach the collector."""
    received: list[ExportTraceServiceRequest] = []

    async def collect(request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    collector = web.Application()
    collector.router.add_post("/v1/traces", collect)
    runner = web.AppRunner(collector)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    settings = {"tracing": {"otlp_endpoint": f"http://127.0.0.1:{port}/v1/traces"}}
    try:
        async with gateway_stack(SCENARIO, registry, settings=settings) as stack:
            await chat(stack, {"traceparent": INCOMING})
        # The app's cleanup shut the provider down, which flushes in a worker thread.
        await async_wait_until(lambda: _have(received), timeout=15, what="exported spans")
    finally:
        await runner.cleanup()
    spans = [
        s for m in received for rs in m.resource_spans for ss in rs.scope_spans for s in ss.spans
    ]
    names = sorted(s.name for s in spans)
    assert names == ["tokenhub.attempt", "tokenhub.request", "tokenhub.route"]
    assert {s.trace_id.hex() for s in spans} == {TRACE_ID}


async def _have(received: list) -> bool:
    await asyncio.sleep(0)
    return bool(received)
