"""Request-log retention and optional, redacted body logging."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from tokenhub.clock import FakeClock
from tokenhub.config import load_settings
from tokenhub.server.app import create_app
from tokenhub.server.app_keys import ENGINE, WRITER
from tokenhub.server.request_log import REQUEST_LOG, prune_request_log
from tokenhub.testing.stack import gateway_stack

from . import routing_stack


def row(ts: float) -> dict:
    """A request-log row at ``ts``."""
    return {
        "request_id": "r",
        "ts": ts,
        "endpoint": "/v1/chat",
        "status": "ok",
        "http_status": 200,
        "attempts": [],
    }


async def test_rows_past_retention_are_pruned(tokenhub_home):
    """Rows older than retention_days are deleted; newer ones stay."""
    clock = FakeClock()
    app = create_app(load_settings({"request_log": {"retention_days": 30}}), clock=clock)
    async with TestClient(TestServer(app)):
        writer = app[WRITER]
        writer.submit(REQUEST_LOG, row(clock.time() - 31 * 86_400))
        writer.submit(REQUEST_LOG, row(clock.time() - 29 * 86_400))
        await writer.flush_all()
        assert await prune_request_log(app) == 1
        async with app[ENGINE].connect() as conn:
            left = (await conn.execute(select(func.count()).select_from(REQUEST_LOG))).scalar()
        assert left == 1


async def test_bodies_logged_redacted_only_when_enabled(tokenhub_home):
    """With log_bodies on, request and response are stored with secrets masked; off, nothing."""
    settings = {"request_log": {"log_bodies": True}}
    secret = "sk-live-0123456789abcdef"
    async with gateway_stack(
        routing_stack.scenario(), routing_stack.registry, settings=settings
    ) as stack:
        body = {"model": "big-oa", "messages": [{"role": "user", "content": f"my key {secret}"}]}
        async with stack.client.post("/v1/chat/completions", json=body) as response:
            assert response.status == 200
            answered = (await response.json())["choices"][0]["message"]["content"]
        async with stack.admin.get("/admin/v1/requests") as response:
            logged = (await response.json())["data"][0]["body"]
    assert logged["request"]["messages"][0]["content"] == "my key [REDACTED]"
    assert answered
    assert logged["response"]["choices"][0]["message"]["content"] == answered
    async with gateway_stack(routing_stack.scenario(), routing_stack.registry) as stack:
        async with stack.client.post("/v1/chat/completions", json=body) as response:
            assert response.status == 200
        async with stack.admin.get("/admin/v1/requests") as response:
            assert (await response.json())["data"][0]["body"] is None
