"""Metrics, events, request log and health, driven with known outcomes through the simulator."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tokenhub.clock import FakeClock
from tokenhub.errors import ErrorKind
from tokenhub.server.app_keys import EVENTS
from tokenhub.testing.stack import gateway_stack

from . import routing_stack
from .test_consumer_openai import force_first


async def scrape(stack) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics keyed by (name, sorted labels)."""
    async with stack.client.get("/metrics") as response:
        text = await response.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def chat(stack, model: str = "auto", **extra) -> int:
    """POST one chat completion; return the status."""
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}
    async with stack.client.post("/v1/chat/completions", json=body) as response:
        await response.read()
        return response.status


async def test_counters_match_driven_traffic(stack, oai):
    """Exact counter values after 3 successes, 1 failover and 1 no-eligible-model error."""
    for _ in range(3):
        assert await chat(stack, "big-oa") == 200
    force_first(stack, "small-oa")
    stack.sim.enqueue("oa", model="small-oa", status=500)
    assert await chat(stack, "tokenhub/cheap") == 200
    assert await chat(stack, "auto", tokenhub={"min_weight": 10}) == 503
    samples = await scrape(stack)
    ok = {"endpoint": "/v1/chat/completions", "outcome": "ok"}
    assert (
        value(
            samples, "tokenhub_requests_total", mode="normal", model="big-oa", provider="oa", **ok
        )
        == 3
    )
    assert (
        value(
            samples, "tokenhub_requests_total", mode="cheap", model="small-ob", provider="ob", **ok
        )
        == 1
    )
    assert (
        value(
            samples,
            "tokenhub_requests_total",
            endpoint="/v1/chat/completions",
            mode="normal",
            model="none",
            provider="none",
            outcome="no_eligible_model",
        )
        == 1
    )
    assert value(samples, "tokenhub_failovers_total", reason="transient") == 1
    assert (
        value(
            samples,
            "tokenhub_upstream_duration_seconds_count",
            provider="oa",
            model="small-oa",
            outcome="error",
        )
        == 1
    )
    assert (
        value(
            samples,
            "tokenhub_upstream_duration_seconds_count",
            provider="oa",
            model="big-oa",
            outcome="ok",
        )
        == 3
    )
    out = value(samples, "tokenhub_tokens_total", direction="output", model="big-oa", provider="oa")
    assert out == 36  # the simulator's replies are 12 tokens each
    tokens_in = value(
        samples, "tokenhub_tokens_total", direction="input", model="big-oa", provider="oa"
    )
    assert tokens_in > 0
    cost = value(samples, "tokenhub_cost_usd_total", model="big-oa", provider="oa")
    assert cost == pytest.approx((tokens_in * 2 + out * 8) / 1e6)  # big-oa: $2 in, $8 out
    assert value(samples, "tokenhub_provider_health_state", provider="oa", state="degraded") == 1
    assert (
        value(samples, "tokenhub_request_duration_seconds_count", endpoint="/v1/chat/completions")
        == 5
    )


async def test_ttft_and_escalation_metrics(stack, oai):
    """A stream records time to first token; a context overflow counts as an escalation."""
    stream = await oai.chat.completions.create(
        model="big-oa", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    async for _ in stream:
        pass
    force_first(stack, "small-oa")
    stack.sim.enqueue("oa", model="small-oa", error_type="context_length_exceeded")
    assert await chat(stack, "tokenhub/cheap") == 200
    samples = await scrape(stack)
    assert (
        value(samples, "tokenhub_time_to_first_token_seconds_count", provider="oa", model="big-oa")
        == 1
    )
    assert value(samples, "tokenhub_escalations_total", reason="context_overflow") == 1


async def read_events(
    stack, count: int, started: asyncio.Event, types: set[str] | None = None
) -> list[dict]:
    """Read ``count`` events (of ``types``, after hello) from the SSE endpoint over the socket."""
    events: list[dict] = []
    async with stack.admin.get("/admin/v1/events") as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        name = ""
        async for raw in response.content:
            line = raw.decode().rstrip("\r\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                if name == "hello":
                    started.set()
                    continue
                if types is not None and name not in types:
                    continue
                events.append(orjson.loads(line[6:]))
                if len(events) == count:
                    return events
    return events


async def test_event_stream_reports_decisions_and_failovers(stack):
    """The SSE stream carries the failover, then the decision, for a request that failed over."""
    started = asyncio.Event()
    wanted = {"routing.failover", "routing.decision", "health.changed"}
    reader = asyncio.create_task(read_events(stack, 4, started, wanted))
    await asyncio.wait_for(started.wait(), 10)
    force_first(stack, "small-oa")
    stack.sim.enqueue("oa", model="small-oa", status=500)
    assert await chat(stack, "tokenhub/cheap") == 200
    failover, *health, decision = await asyncio.wait_for(reader, 10)
    changes = {(h["target"], h["state"]) for h in health}
    assert changes == {("model:small-oa", "degraded"), ("provider:oa", "degraded")}
    assert (failover["type"], failover["model"], failover["kind"]) == (
        "routing.failover",
        "small-oa",
        "transient",
    )
    assert decision["type"] == "routing.decision"
    assert decision["model"] == "small-ob"
    assert decision["attempts"] == 2


async def test_slow_sse_reader_gets_drop_marker(stack):
    """A reader whose queue overflows gets a dropped event counting the loss."""
    bus = stack.app[EVENTS]
    bus.queue_size = 3
    started = asyncio.Event()
    reader = asyncio.create_task(read_events(stack, 4, started))
    await asyncio.wait_for(started.wait(), 10)
    for i in range(10):  # published synchronously: the reader cannot keep up
        bus.publish("tick", i=i)
    events = await asyncio.wait_for(reader, 10)
    markers = [e for e in events if e["type"] == "dropped"]
    assert [m["count"] for m in markers] == [7]
    assert [e["i"] for e in events if e["type"] == "tick"] == [0, 1, 2]


async def test_request_log_filters_and_pages(stack):
    """The request log filters by model and status and pages with cursors, newest first."""
    for _ in range(3):
        await chat(stack, "big-oa")
    await chat(stack, "small-ob")
    await chat(stack, "auto", tokenhub={"min_weight": 10})
    async with stack.admin.get("/admin/v1/requests?model=big-oa&limit=2") as r:
        page = await r.json()
    assert [row["model"] for row in page["data"]] == ["big-oa", "big-oa"]
    async with stack.admin.get(
        f"/admin/v1/requests?model=big-oa&before={page['next_cursor']}"
    ) as r:
        rest = await r.json()
    assert len(rest["data"]) == 1
    async with stack.admin.get("/admin/v1/requests?status=error") as r:
        errors = (await r.json())["data"]
    assert [(e["error_type"], e["http_status"]) for e in errors] == [("no_eligible_model", 503)]
    row = page["data"][0]
    assert row["output_tokens"] == 12
    assert row["attempts"][0]["outcome"] == "ok"
    assert "messages" not in row


@pytest.mark.parametrize("query", ["?status=maybe", "?limit=5000", "?nope=1"])
async def test_request_log_bad_query(stack, query):
    """Bad request-log parameters are 400."""
    async with stack.admin.get(f"/admin/v1/requests{query}") as r:
        assert r.status == 400


async def test_health_view(stack):
    """The health view shows a cooled-down model with its last error and cooldown left."""
    force_first(stack, "small-oa")
    stack.sim.enqueue("oa", model="small-oa", status=429, retry_after=30)
    await chat(stack, "tokenhub/cheap")
    async with stack.admin.get("/admin/v1/health") as r:
        report = await r.json()
    models = {m["id"]: m for m in report["models"]}
    assert models["small-oa"]["state"] == "rate_limited"
    assert 29 < models["small-oa"]["cooldown_left_s"] <= 30
    assert "429" in models["small-oa"]["last_error"]
    assert models["small-ob"]["state"] == "healthy"
    providers = {p["id"]: p for p in report["providers"]}
    assert providers["oa"]["endpoints"][0]["url"].endswith("/oa/v1")
    assert providers["an"]["credential"] == "ok"


async def test_scrapes_and_health_views_move_no_circuit(tokenhub_home):
    """100 scrapes of /metrics and the health view move no circuit, open or past its cooldown."""
    clock = FakeClock()
    async with gateway_stack(
        routing_stack.scenario(), routing_stack.registry, clock=clock
    ) as stack:
        await _scrape_an_open_circuit(stack, clock)


async def _scrape_an_open_circuit(stack, clock) -> None:
    gateway = stack.gateway
    for _ in range(5):
        gateway.health.failure("oa", "small-oa", ErrorKind.TRANSIENT, "HTTP 500")
    records = (gateway.health.provider("oa"), gateway.health.model("small-oa"))
    assert [r.state for r in records] == ["down", "down"]

    async def scrape_all() -> None:
        for _ in range(50):
            async with stack.admin.get("/metrics") as r:
                assert r.status == 200
            async with stack.admin.get("/admin/v1/health") as r:
                assert r.status == 200

    def snapshot():
        return [(r.state, r.probing, r.cooldown_until) for r in records], gateway.health.version

    before = snapshot()
    await scrape_all()
    assert snapshot() == before
    clock.advance(3600)  # every cooldown is over: a probe may go
    async with stack.admin.get("/admin/v1/health") as r:
        shown = {m["id"]: m["state"] for m in (await r.json())["models"]}
    assert shown["small-oa"] == "half_open"
    await scrape_all()
    assert snapshot() == before
