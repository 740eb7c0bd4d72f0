"""The access line: fixed route paths as they are, anything else through the redactor."""

from __future__ import annotations

import io
import json
import logging

import aiohttp
from aiohttp import web

from tokenhub.observability.logging import configure_logging
from tokenhub.server.access_log import JsonAccessLogger

SECRET = "sk-live-abcdefghijklmnop1234"


async def ok(_request: web.Request) -> web.Response:
    """Answer 200."""
    return web.Response(text="ok")


async def test_access_lines_redact_every_path_that_is_not_a_fixed_route():
    """A parameterised or unknown path is redacted; a fixed route's path is logged as is."""
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream)
    try:
        app = web.Application()
        app.router.add_get("/v1/models", ok)
        app.router.add_get("/keys/{id}", ok)
        runner = web.AppRunner(
            app,
            access_log_class=JsonAccessLogger,
            access_log=logging.getLogger("tokenhub.access"),
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
                for path in ("/v1/models", f"/keys/{SECRET}", f"/nowhere/{SECRET}"):
                    await (await client.get(path)).release()
        finally:
            await runner.cleanup()
    finally:
        configure_logging("info", "json")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    paths = [line["path"] for line in lines if line["msg"] == "request"]
    assert paths[0] == "/v1/models"
    assert SECRET not in stream.getvalue()
    assert len(paths) == 3
    assert all(line["peer"] == "127.0.0.1" for line in lines if line["msg"] == "request")
    assert lines[0]["ts"].endswith("Z")
