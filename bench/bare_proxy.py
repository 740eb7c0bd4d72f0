"""Bare proxies: how little a Python pass-through can cost, for the floor ladder only.

Two servers below the lean floor (bench/lean_proxy.py), built to find out where the added
latency of one request at concurrency 1 comes from (bench/floor_ladder.py):

- ``--server raw``: asyncio protocols on uvloop at both ends, no HTTP library at all;
- ``--server aiohttp``: aiohttp's web server in front, the same bare client behind (the
  shape of tokenhub: aiohttp serves, its own HTTP/1.1 client calls the upstream).

Both forward ``POST /v1/chat/completions`` to one upstream over one kept-alive
connection per client connection and understand nothing but ``Content-Length`` bodies:
no streaming, no chunked encoding, no errors. They exist to be measured, not used.

    python bench/bare_proxy.py --server raw --upstream http://127.0.0.1:8901/openai/v1 --port 8903
"""

from __future__ import annotations

import argparse
import asyncio
from typing import cast
from urllib.parse import urlsplit

import uvloop
from aiohttp import web

HEAD_END = b"\r\n\r\n"
LENGTH = b"content-length:"


def split_message(buffer: bytes) -> tuple[bytes, bytes] | None:
    """(body, rest) of the first whole HTTP message in ``buffer``, or None if incomplete."""
    head_end = buffer.find(HEAD_END)
    if head_end < 0:
        return None
    head = buffer[: head_end + 2].lower()  # every header line with its CRLF
    at = head.find(LENGTH)
    length = int(head[at + len(LENGTH) : head.find(b"\r\n", at)]) if at >= 0 else 0
    start = head_end + len(HEAD_END)
    if len(buffer) < start + length:
        return None
    return buffer[start : start + length], buffer[start + length :]


class UpstreamConnection(asyncio.Protocol):
    """One kept-alive connection to the upstream; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiter: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        message = split_message(self.buffer)
        if message is not None and self.waiter is not None and not self.waiter.done():
            body, self.buffer = message
            self.waiter.set_result(body)

    async def post(self, head: bytes, body: bytes) -> bytes:
        """Send one request and return the body of its answer."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(head % len(body) + body)
        return await self.waiter


class Upstream:
    """Where to forward, and an idle connection kept for the next request."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        path = parts.path.rstrip("/") + "/chat/completions"
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        ).encode()
        self.idle: list[UpstreamConnection] = []

    async def post(self, body: bytes) -> bytes:
        """Forward ``body`` on an idle connection (or a new one); the answer's body."""
        if self.idle:
            connection = self.idle.pop()
        else:
            loop = asyncio.get_running_loop()
            _, connection = await loop.create_connection(UpstreamConnection, self.host, self.port)
        answer = await connection.post(self.head, body)
        self.idle.append(connection)
        return answer


OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


class RawServer(asyncio.Protocol):
    """One client connection: requests in, answers out, no HTTP library."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.transport: asyncio.Transport | None = None
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        message = split_message(self.buffer)
        if message is not None:
            body, self.buffer = message
            asyncio.get_running_loop().create_task(self.answer(body))

    async def answer(self, body: bytes) -> None:
        payload = await self.upstream.post(body)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(OK_HEAD % len(payload) + payload)


async def serve(kind: str, upstream_url: str, port: int) -> None:
    """Listen on 127.0.0.1:``port`` until cancelled."""
    upstream = Upstream(upstream_url)
    if kind == "raw":
        await _serve_raw(upstream, port)
    else:
        await _serve_aiohttp(upstream, port)


async def _serve_raw(upstream: Upstream, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: RawServer(upstream), "127.0.0.1", port, backlog=1024)
    async with server:
        print(f"bare proxy (raw) listening on http://127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()


async def _serve_aiohttp(upstream: Upstream, port: int) -> None:
    async def chat(request: web.Request) -> web.Response:
        payload = await upstream.post(await request.read())
        return web.Response(body=payload, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
    print(f"bare proxy (aiohttp) listening on http://127.0.0.1:{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", choices=("raw", "aiohttp"), required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's OpenAI base URL")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvloop.run(serve(args.server, args.upstream, args.port))


if __name__ == "__main__":
    main()
