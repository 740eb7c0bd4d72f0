"""The only code that binds sockets: runs the app on TCP and a Unix socket until signalled.

SIGTERM/SIGINT: stop accepting, let in-flight requests finish within the grace period,
flush the background writer, close the database, remove the socket and pid file.
SIGHUP: reload the config file; settings that need a restart are reported as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from tokenhub.config import RESTART_REQUIRED, LoadedSettings, load_settings
from tokenhub.errors import ConfigError, TokenhubError
from tokenhub.observability.logging import configure_logging, flush_logs
from tokenhub.server.access_log import JsonAccessLogger
from tokenhub.server.app import create_app
from tokenhub.server.app_keys import GATEWAY, LISTENERS

log = logging.getLogger("tokenhub.daemon")
SOCKET_MODE = 0o600
LOG_FLUSH_S = 0.5
GC_THRESHOLDS = (10_000, 10, 10)
"""The collector's thresholds once serving: a young generation of 10,000 objects instead of
700, so the objects of requests in flight are not scanned and promoted several times per
request (measured under load: 4.4 % of the process's CPU in the collector before, 1.9 %
after, and full collections every ~50 s instead of every ~2.5 s)."""

AppFactory = Callable[[LoadedSettings], Awaitable[web.Application]]


class DaemonAlreadyRunningError(TokenhubError):
    """Another live daemon holds the socket."""

    type = "daemon_running"


def run(
    loaded: LoadedSettings, *, newcomer: bool = False, app_factory: AppFactory | None = None
) -> int:
    """Run the daemon until a stop signal; return the process exit status.

    ``newcomer`` turns demo mode on when no provider is configured, so a first
    ``make run`` answers requests at once.
    """
    _install_uvloop()
    settings = loaded.settings
    configure_logging(settings.log_level, settings.log_format)
    return asyncio.run(serve(loaded, app_factory, newcomer=newcomer))


def settle_collector() -> None:
    """Freeze what start-up built and set the serving thresholds.

    Everything built at start-up lives as long as the process: frozen, full collections
    stop re-scanning it under load. No full collection first: the collector ran during
    start-up, about 85 of the 104,000 tracked objects are unreachable by now, and a full
    collection would cost 0.08 to 0.1 s before the first answer. (Keeping the collector off
    during start-up as well was 0.1 s faster still, but froze 3,000 unreachable objects
    and cost 1.1 MiB of resident memory.)
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _install_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def _default_factory(loaded: LoadedSettings) -> web.Application:
    return create_app(loaded, migrate_in_child=True)


async def serve(
    loaded: LoadedSettings, app_factory: AppFactory | None = None, *, newcomer: bool = False
) -> int:
    """Bind, serve until SIGTERM/SIGINT, then shut down gracefully (demo mode included).

    ``newcomer``: demo mode when neither the config nor the default store holds a
    provider. A database URL set on purpose means a deployment, never a demo.
    """
    settings = loaded.settings
    if newcomer and not settings.demo and not settings.providers and settings.db_url is None:
        from tokenhub.store.registry_store import holds_providers

        if not await holds_providers(loaded.db_url):
            log.info("no provider configured: starting in demo mode")
            loaded.settings = settings.model_copy(update={"demo": True})
    if loaded.settings.demo:
        from tokenhub.demo import demo_environment  # the simulator only when it is used

        async with demo_environment(loaded) as demo_loaded:
            return await _serve(demo_loaded, app_factory)
    return await _serve(loaded, app_factory)


async def _serve(loaded: LoadedSettings, app_factory: AppFactory | None) -> int:
    socket_path = loaded.socket_path
    claim_socket(socket_path)
    loaded.paths.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    app = await (app_factory or _default_factory)(loaded)
    grace = loaded.settings.shutdown_grace_s
    access_log = logging.getLogger("tokenhub.access") if loaded.settings.access_log else None
    runner = web.AppRunner(
        app,
        access_log_class=JsonAccessLogger,
        access_log=access_log,
        shutdown_timeout=grace,
        handle_signals=False,
        # A client that leaves cancels its handler, so its upstream call or stream is
        # cancelled too instead of running on for nobody (server/middleware.py answers 499).
        handler_cancellation=True,
    )
    await runner.setup()
    stop = _install_signal_handlers(loaded, app)
    try:
        listeners = await _start_sites(runner, loaded, socket_path)
        app[LISTENERS].extend(listeners)
        loaded.paths.pid_file.write_text(f"{os.getpid()}\n", encoding="utf-8")
        settle_collector()
        _announce(listeners)
        flusher = asyncio.create_task(_flush_logs_forever())
        await stop.wait()
        flusher.cancel()
        log.info("shutting down", extra={"grace_s": grace})
    finally:
        _remove_signal_handlers()
        await runner.cleanup()
        _remove(socket_path)
        _remove(loaded.paths.pid_file)
    log.info("stopped")
    flush_logs()
    return 0


def claim_socket(path: Path) -> None:
    """Refuse to start if a live daemon answers on ``path``; remove a stale socket file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        log.info("removing stale socket", extra={"socket": str(path)})
        path.unlink(missing_ok=True)
        return
    finally:
        probe.close()
    raise DaemonAlreadyRunningError(f"a tokenhub daemon is already running on {path}")


async def _start_sites(runner: web.AppRunner, loaded: LoadedSettings, path: Path) -> list[str]:
    settings = loaded.settings
    tcp = web.TCPSite(runner, settings.host, settings.port)
    await tcp.start()
    old_umask = os.umask(0o177)  # the socket is born 0600: no window where others can connect
    try:
        unix = web.UnixSite(runner, str(path))
        await unix.start()
    finally:
        os.umask(old_umask)
    path.chmod(SOCKET_MODE)  # noqa: ASYNC240 - once, at start-up, before serving
    listeners = [_tcp_url(address) for address in runner.addresses if isinstance(address, tuple)]
    return [*listeners, f"unix:{path}"]


def _tcp_url(address: tuple[str, int] | tuple[str, int, int, int]) -> str:
    host, port = address[0], address[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


async def _flush_logs_forever() -> None:
    while True:
        await asyncio.sleep(LOG_FLUSH_S)
        flush_logs()


def _announce(listeners: list[str]) -> None:
    log.info("listening", extra={"listeners": listeners})
    # One plain line on stdout, for humans and for scripts that started us on port 0.
    sys.stdout.write(f"tokenhub listening on {' and '.join(listeners)}\n")
    sys.stdout.flush()


def _install_signal_handlers(loaded: LoadedSettings, app: web.Application) -> asyncio.Event:
    """Handle signals before announcing readiness, so an early Ctrl-C is graceful too."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, _on_hangup, loaded, app)
    return stop


_background: set[asyncio.Task[None]] = set()


def _on_hangup(loaded: LoadedSettings, app: web.Application) -> None:
    before = (loaded.settings.providers, loaded.settings.models)
    reload_settings(loaded)
    after = (loaded.settings.providers, loaded.settings.models)
    if after != before and GATEWAY in app:
        task = asyncio.create_task(_reload_registry(app, loaded))
        _background.add(task)
        task.add_done_callback(_background.discard)


async def _reload_registry(app: web.Application, loaded: LoadedSettings) -> None:
    try:
        await app[GATEWAY].load(loaded.settings.providers, loaded.settings.models)
    except TokenhubError as exc:
        log.error("registry reload failed", extra={"error": exc.message})  # noqa: TRY400 - the reason is the message; a traceback would repeat it
    else:
        log.info("registry reloaded from the config file")


def _remove_signal_handlers() -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.remove_signal_handler(signum)


def reload_settings(loaded: LoadedSettings) -> list[str]:
    """Re-read the config sources and apply what can change live; return what needs a restart."""
    try:
        fresh = load_settings(loaded.cli_overrides, config_file=loaded.config_file)
    except ConfigError as exc:
        log.error("config reload failed; keeping the current settings", extra={"error": str(exc)})  # noqa: TRY400 - the reason is the message; a traceback would repeat it
        return []
    old, new = loaded.settings, fresh.settings
    changed = [name for name in type(new).model_fields if getattr(old, name) != getattr(new, name)]
    # In demo mode the simulated registry and throwaway store are not the file's to change.
    frozen = RESTART_REQUIRED | ({"providers", "models"} if old.demo else set())
    needs_restart = sorted(set(changed) & RESTART_REQUIRED)
    applied = sorted(set(changed) - frozen)
    kept = {name: getattr(old, name) for name in set(changed) & frozen}
    loaded.settings = new.model_copy(update=kept)
    loaded.sources = fresh.sources
    configure_logging(loaded.settings.log_level, loaded.settings.log_format)
    log.info("config reloaded", extra={"applied": applied, "needs_restart": needs_restart})
    return needs_restart


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
