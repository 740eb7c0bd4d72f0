"""Run the app in this process on TCP port 0 and a Unix socket, as the daemon would."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from tokenhub.config import LoadedSettings
from tokenhub.server.access_log import JsonAccessLogger
from tokenhub.server.app_keys import LISTENERS


@dataclass
class RunningApp:
    """An app serving on both listeners."""

    app: web.Application
    url: str
    socket_path: Path

    def tcp_session(self) -> aiohttp.ClientSession:
        """A client session for the TCP listener (keeps 127.0.0.1 cookies, as browsers do)."""
        return aiohttp.ClientSession(base_url=self.url, cookie_jar=aiohttp.CookieJar(unsafe=True))

    def unix_session(self) -> aiohttp.ClientSession:
        """A client session that connects through the Unix socket."""
        connector = aiohttp.UnixConnector(path=str(self.socket_path))
        return aiohttp.ClientSession(base_url="http://localhost", connector=connector)


@asynccontextmanager
async def run_app(loaded: LoadedSettings, app: web.Application) -> AsyncIterator[RunningApp]:
    """Start ``app`` on 127.0.0.1:0 and the configured socket; clean up on exit.

    The runner is set up as the daemon's: its access logger, handlers cancelled when
    their client leaves.
    """
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=5,
        handler_cancellation=True,
        access_log_class=JsonAccessLogger,
        access_log=logging.getLogger("tokenhub.access"),
    )
    await runner.setup()
    try:
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        socket_path = loaded.socket_path
        socket_path.parent.mkdir(parents=True, exist_ok=True)
        unix = web.UnixSite(runner, str(socket_path))
        await unix.start()
        host, port = next(a for a in runner.addresses if isinstance(a, tuple))[:2]
        url = f"http://{host}:{port}"
        app[LISTENERS].extend([url, f"unix:{socket_path}"])
        yield RunningApp(app, url, socket_path)
    finally:
        await runner.cleanup()
