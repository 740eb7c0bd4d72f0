"""The lean floor: the least a Python gateway can do per request.

One process, uvloop, one pooled aiohttp ClientSession, and a passthrough of
``POST /v1/chat/completions`` to a single upstream URL, streaming included. Nothing else:
no parsing of the body, no routing, no logging, no metrics. The benchmark compares
tokenhub with this to see what its features cost.

    python bench/lean_proxy.py --upstream http://127.0.0.1:8901/openai/v1 --port 8902

It prints ``lean proxy listening on http://HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import aiohttp
import uvloop
from aiohttp import web

SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
PASSED_HEADERS = ("Content-Type", "Authorization")
READ_CHUNK = 64 * 1024


async def chat(request: web.Request) -> web.StreamResponse:
    """Forward the body as is; relay status, content type and body, chunk by chunk."""
    body = await request.read()
    headers = {h: request.headers[h] for h in PASSED_HEADERS if h in request.headers}
    url = request.app[UPSTREAM] + "/chat/completions"
    async with request.app[SESSION].post(url, data=body, headers=headers) as upstream:
        ctype = upstream.headers.get("Content-Type", "application/json")
        if not ctype.startswith("text/event-stream"):
            payload = await upstream.read()
            return web.Response(
                status=upstream.status,
                body=payload,
                content_type=None,
                headers={"Content-Type": ctype},
            )
        response = web.StreamResponse(status=upstream.status, headers={"Content-Type": ctype})
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def _session(app: web.Application):
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:
        app[SESSION] = session
        yield


def create_app(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream.rstrip("/")
    app.cleanup_ctx.append(_session)
    app.router.add_post("/v1/chat/completions", chat)
    return app


async def serve(upstream: str, host: str, port: int) -> None:
    runner = web.AppRunner(create_app(upstream), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    bound = runner.addresses[0]
    print(f"lean proxy listening on http://{bound[0]}:{bound[1]}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="upstream base URL, e.g. .../v1")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        uvloop.run(serve(args.upstream, args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
