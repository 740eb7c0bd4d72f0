"""Clients that leave mid-body or mid-stream: info lines and 499s, cancelled upstreams, charges.

The real app on an ephemeral port in front of the simulator as a real server; the clients
are raw sockets (mid-body) and aiohttp clients that close after reading part of a stream.
"""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from tokenhub.clock import FakeClock
from tokenhub.errors import ErrorKind
from tokenhub.observability.logging import configure_logging
from tokenhub.server.app_keys import LISTENERS
from tokenhub.sim import ModelSpec, ProviderSpec, Scenario
from tokenhub.testing.polling import async_wait_until
from tokenhub.testing.stack import Stack, gateway_stack, provider_for

from . import routing_stack

STREAM_TOKENS = 200
READ_CHUNKS = 40
SETTINGS = {"auth": {"require_api_key": True}}
PARTIAL_BODY = b'{"model": "m", "messages": [{"role": "user", "content": "hel'


def _scenario() -> Scenario:
    """One OpenAI-format provider whose 200-token stream takes about a second."""
    spec = ModelSpec(id="up", output_tokens=STREAM_TOKENS, tokens_per_second=200)
    return Scenario(seed=5, providers=(ProviderSpec(name="oa", type="openai", models=(spec,)),))


def _registry(sim: Any) -> tuple[list[Any], list[Any]]:
    return [provider_for(sim, "oa", timeout_s=30)], [routing_stack.model("m", "oa", "up")]


@dataclass
class Scene:
    """The stack, an API key for it, and the daemon's log output."""

    stack: Stack
    key: str
    log: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        """Every log line written so far, parsed."""
        return [json.loads(line) for line in self.log.getvalue().splitlines()]


@pytest.fixture
async def scene(tokenhub_home: Any) -> AsyncIterator[Scene]:
    """The gateway over the paced simulator, logging JSON lines to a buffer."""
    log = io.StringIO()
    configure_logging("info", "json", stream=log)
    try:
        async with gateway_stack(_scenario(), _registry, settings=SETTINGS) as stack:
            async with stack.admin.post("/admin/v1/keys", json={"name": "k"}) as response:
                assert response.status == 201, await response.text()
                key = (await response.json())["key"]
            yield Scene(stack, key, log)
    finally:
        configure_logging("info", "json")


async def _in_flight(stack: Stack) -> float:
    """The gateway's own in-flight gauge, as /metrics shows it (the scrape included)."""
    text = await _metrics(stack)
    line = next(x for x in text.splitlines() if x.startswith("tokenhub_http_in_flight_requests"))
    return float(line.split()[-1])


async def _metrics(stack: Stack) -> str:
    async with stack.client.get("/metrics") as response:
        return await response.text()


async def leave_mid_body(scene: Scene, count: int) -> None:
    """Open ``count`` requests that send headers and part of a body, then all close at once."""
    await leave_in_flight(scene, count, PARTIAL_BODY, len(PARTIAL_BODY) + 100, "body")


async def leave_in_flight(scene: Scene, count: int, body: bytes, length: int, tag: str) -> None:
    """Send ``count`` requests (``body`` of a declared ``length``), then close them all.

    They close only once every one is inside the gateway (its in-flight gauge says so), so
    each is a request the gateway was handling, not a connection it never looked at.
    """
    url = urlsplit(scene.stack.url)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {scene.key}\r\n"
        f"Content-Length: {length}\r\n"
    )
    writers: list[asyncio.StreamWriter] = []
    try:
        for i in range(count):
            _, writer = await asyncio.open_connection(url.hostname, url.port)
            writer.write(f"{head}X-Request-ID: {tag}-{i}\r\n\r\n".encode() + body)
            writers.append(writer)
        await asyncio.gather(*(w.drain() for w in writers))
        await async_wait_until(
            lambda: _above(scene.stack, count), timeout=30, what="every request in flight"
        )
    finally:
        for writer in writers:
            writer.close()
        await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)


async def _above(stack: Stack, count: int) -> bool:
    return await _in_flight(stack) >= count + 1


async def leave_mid_stream(scene: Scene, count: int, *, anthropic: bool = False) -> None:
    """Start ``count`` streams; each reads ``READ_CHUNKS`` SSE events, then closes."""
    path = "/v1/messages" if anthropic else "/v1/chat/completions"
    async with aiohttp.ClientSession(scene.stack.url) as http:
        await asyncio.gather(
            *(_one_stream(http, scene.key, path, f"stream-{path[4:8]}-{i}") for i in range(count))
        )


async def _one_stream(http: aiohttp.ClientSession, key: str, path: str, request_id: str) -> None:
    body = {
        "model": "m",
        "max_tokens": 1000,
        "stream": True,
        "messages": [{"role": "user", "content": "hello"}],
    }
    headers = {"Authorization": f"Bearer {key}", "X-Request-ID": request_id}
    response = await http.post(path, json=body, headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["X-Request-ID"] == request_id
    seen = 0
    async for line in response.content:
        seen += line.startswith(b"data:")
        if seen == READ_CHUNKS:
            break
    response.close()  # drops the connection: the client is gone
    assert seen == READ_CHUNKS


async def _rows(stack: Stack, status: str) -> list[dict[str, Any]]:
    async with stack.admin.get(
        "/admin/v1/requests", params={"status": status, "limit": "1000"}
    ) as response:
        return (await response.json())["data"]


async def _spent(stack: Stack) -> float:
    async with stack.admin.get("/admin/v1/keys") as response:
        return float((await response.json())["data"][0]["spent_usd"])


def _counted(metrics: str, name: str, label: str) -> float:
    """The sum of ``name``'s samples carrying ``label`` (e.g. ``status="499"``)."""
    return sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith(name + "{") and label in line
    )


async def check_ending(scene: Scene, *, mid_body: int, mid_stream: int, mid_call: int = 0) -> None:
    """Assert what the issue asks of the clients that left (each kind counted)."""
    stack, total = scene.stack, mid_body + mid_stream + mid_call
    await async_wait_until(
        lambda: _all_rows(stack, total), timeout=30, what="a request-log row for every client"
    )
    await async_wait_until(
        lambda: _streams_ended(stack), timeout=30, what="every upstream stream ended"
    )
    lines = scene.lines()
    assert [x for x in lines if x["level"] in {"error", "critical"} or "exc" in x] == []
    assert "Traceback" not in scene.log.getvalue()
    access = [x for x in lines if x["msg"] == "request" and x["path"].startswith("/v1/")]
    assert len(access) == total
    assert {x["status"] for x in access} == {499}
    ids = {x["request_id"] for x in access}
    assert {f"body-{i}" for i in range(mid_body)} <= ids
    assert None not in ids
    assert len(ids) == total
    closed = [x for x in lines if x["msg"] == "client_closed"]
    assert {x["level"] for x in closed} == {"info"}
    assert len(closed) == total
    metrics = await _metrics(stack)
    assert _counted(metrics, "tokenhub_http_requests_total", 'status="499"') == total
    assert _counted(metrics, "tokenhub_http_requests_total", 'status="500"') == 0
    requests = _counted(metrics, "tokenhub_requests_total", 'outcome="client_closed"')
    assert requests == total
    streams = stack.sim.streams
    assert len(streams) == mid_stream
    assert {s.outcome for s in streams} <= {"client_closed"}
    # Each was cut soon after the client left: near the chunks it read, far from the end.
    assert all(READ_CHUNKS - 5 <= s.written < s.total // 2 for s in streams)


async def _all_rows(stack: Stack, total: int) -> list[dict[str, Any]] | None:
    rows = await _rows(stack, "client_closed")
    return rows if len(rows) == total else None


async def _streams_ended(stack: Stack) -> bool:
    return all(s.outcome != "streaming" for s in stack.sim.streams)


async def test_clients_leaving_mid_body_are_info_lines_and_499s(scene: Scene) -> None:
    """Clients that close while sending their body: 499 with their id, no error, no charge."""
    await leave_mid_body(scene, 30)
    await check_ending(scene, mid_body=30, mid_stream=0)
    rows = await _rows(scene.stack, "client_closed")
    assert {r["http_status"] for r in rows} == {499}
    assert {r["model"] for r in rows} == {None}  # never routed: nothing reached an upstream
    assert await _spent(scene.stack) == 0
    assert scene.stack.sim.received == []


async def test_clients_leaving_mid_stream_cancel_the_upstream_and_are_charged(
    scene: Scene,
) -> None:
    """Streams cut by the client: 499s, the upstream stream closed early, the estimate charged."""
    await leave_mid_stream(scene, 5)
    await leave_mid_stream(scene, 5, anthropic=True)
    await check_ending(scene, mid_body=0, mid_stream=10)
    rows = await _rows(scene.stack, "client_closed")
    assert {r["http_status"] for r in rows} == {499}
    assert {r["model"] for r in rows} == {"m"}
    # No usage arrived (it comes with the end): the router's input estimate and one token
    # per chunk the upstream sent before the client left.
    assert all(r["input_tokens"] > 0 for r in rows)
    # At least what the client read, at most what the upstream wrote (one frame of slack).
    most = max(s.written for s in scene.stack.sim.streams)
    assert all(READ_CHUNKS - 5 <= r["output_tokens"] <= most + 1 for r in rows), rows
    assert all(r["cost_usd"] > 0 for r in rows)
    spent = await _spent(scene.stack)
    assert spent == pytest.approx(sum(r["cost_usd"] for r in rows), rel=1e-6)


async def test_clients_leaving_while_the_upstream_answers_cancel_the_call(scene: Scene) -> None:
    """Clients gone while a non-streamed call hangs upstream: 499s, the call cancelled at once."""
    for _ in range(5):
        scene.stack.sim.enqueue("oa", hang=True)
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hello"}]}'
    await leave_in_flight(scene, 5, body, len(body), "call")
    await check_ending(scene, mid_body=0, mid_stream=0, mid_call=5)
    rows = await _rows(scene.stack, "client_closed")
    assert {r["http_status"] for r in rows} == {499}
    # Cancelled, not left to run into the provider's 30 s timeout for nobody.
    assert all(r["latency_ms"] < 10_000 for r in rows)
    assert len(scene.stack.sim.received) == 5


async def test_an_admin_write_whose_client_leaves_still_completes(scene: Scene) -> None:
    """A vault init whose client leaves mid-KDF still runs to its end: token made, audited."""
    stack = scene.stack
    socket_path = next(x for x in stack.app[LISTENERS] if x.startswith("unix:"))[5:]
    body = b'{"password": "correct horse battery staple"}'
    _, writer = await asyncio.open_unix_connection(socket_path)
    writer.write(
        b"POST /admin/v1/vault/init HTTP/1.1\r\nHost: x\r\nX-Request-ID: init-1\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    try:
        await async_wait_until(lambda: _above(stack, 1), what="the init in flight")
    finally:
        writer.close()
    await async_wait_until(lambda: _audited(stack, "admin_token.create"), what="the audit")
    async with stack.admin.get("/admin/v1/vault") as response:
        assert (await response.json())["state"] == "unlocked"
    await async_wait_until(lambda: _access_line(scene, "init-1"), what="the access line")
    [line] = [x for x in scene.lines() if x.get("request_id") == "init-1" and x["msg"] == "request"]
    assert line["status"] == 499  # done, but its client never got the answer
    assert [x for x in scene.lines() if x["level"] in {"error", "critical"}] == []


async def _audited(stack: Stack, action: str) -> bool:
    async with stack.admin.get("/admin/v1/audit") as response:
        return action in {row["action"] for row in (await response.json())["data"]}


async def _access_line(scene: Scene, request_id: str) -> bool:
    return any(x.get("request_id") == request_id and x["msg"] == "request" for x in scene.lines())


async def test_a_probe_whose_client_leaves_frees_its_probe_slot(tokenhub_home: Any) -> None:
    """A half-open model's probe cut short by its client frees the slot: the next is served."""
    clock = FakeClock()
    settings = {**SETTINGS, "health": {"eject_consecutive": 1}}
    log = io.StringIO()
    async with gateway_stack(_scenario(), _registry, settings=settings, clock=clock) as stack:
        async with stack.admin.post("/admin/v1/keys", json={"name": "k"}) as response:
            scene = Scene(stack, (await response.json())["key"], log)
        health = stack.gateway.health
        health.failure("oa", "m", ErrorKind.TRANSIENT, "down for the test")
        clock.advance(3600)  # the cooldown is over: the next request is the probe
        stack.sim.enqueue("oa", hang=True)
        body = b'{"model": "m", "messages": [{"role": "user", "content": "hello"}]}'
        await leave_in_flight(scene, 1, body, len(body), "probe")
        await async_wait_until(lambda: _all_rows(stack, 1), what="the probe's row")
        assert not health.model("m").probing
        assert not health.provider("oa").probing
        chat = {"model": "m", "messages": [{"role": "user", "content": "again"}]}
        auth = {"Authorization": f"Bearer {scene.key}"}
        async with stack.client.post("/v1/chat/completions", json=chat, headers=auth) as answer:
            assert answer.status == 200, await answer.text()  # the next probe went through


@pytest.mark.slow
async def test_a_call_the_shutdown_cancels_is_logged_as_cancelled(tokenhub_home: Any) -> None:
    """A call still running when the shutdown's grace ends: an error row, not client_closed."""
    async with aiohttp.ClientSession() as http:  # outlives the app: its client stays
        async with gateway_stack(_scenario(), _registry) as stack:
            stack.sim.enqueue("oa", hang=True)
            chat = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
            url = f"{stack.url}/v1/chat/completions"
            pending = asyncio.ensure_future(http.post(url, json=chat))
            await async_wait_until(lambda: _above(stack, 1), what="the call in flight")
        await asyncio.gather(pending, return_exceptions=True)
    with sqlite3.connect(tokenhub_home / "data" / "tokenhub.db") as db:
        rows = db.execute("SELECT status, http_status, error_type FROM request_log").fetchall()
    assert rows == [("error", 503, "cancelled")]


@pytest.mark.extended
async def test_three_hundred_mid_body_and_a_hundred_mid_stream(scene: Scene) -> None:
    """The issue's figures: 300 clients leaving mid-body and 100 mid-stream, no error."""
    await leave_mid_body(scene, 300)
    await leave_mid_stream(scene, 50)
    await leave_mid_stream(scene, 50, anthropic=True)
    await check_ending(scene, mid_body=300, mid_stream=100)
