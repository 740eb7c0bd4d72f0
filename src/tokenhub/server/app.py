"""``create_app``: the one factory that builds the aiohttp application from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from tokenhub.auth.keyring import KeyRing
from tokenhub.clock import Clock, SystemClock, request_id
from tokenhub.config import LoadedSettings, TracingSettings
from tokenhub.dispatch.credentials import Credentials
from tokenhub.dispatch.gateway import Gateway
from tokenhub.errors import ConfigError, TokenhubError
from tokenhub.observability.events import EventBus
from tokenhub.observability.metrics import Metrics
from tokenhub.observability.redaction import DEFAULT_REDACTOR, Redactor
from tokenhub.observability.tracing import OtelTracing, Tracing
from tokenhub.providers.kinds import ProviderKinds, default_kinds
from tokenhub.providers.pool import ProviderPool
from tokenhub.routing.health import HealthTracker
from tokenhub.server import (
    admin_audit,
    admin_keys,
    admin_observe,
    admin_registry,
    admin_route,
    admin_session_routes,
    admin_system,
    admin_tsdb,
    admin_vault,
    consumer,
    count_tokens,
    envelope,
    models_api,
    responses,
    responses_store,
    system,
)
from tokenhub.server.admin_auth import ADMIN_TOKENS, AdminTokens
from tokenhub.server.admin_sessions import ADMIN_SESSIONS, AdminSessions
from tokenhub.server.admin_vault import vault_event_sink
from tokenhub.server.app_keys import (
    CLOCK,
    ENGINE,
    EVENTS,
    GATEWAY,
    HANDLING,
    KEYRING,
    LISTENERS,
    METRICS,
    NEW_ID,
    REDACTOR,
    ROUTES,
    SETTINGS,
    STARTED_AT,
    STOPPING,
    TRACING,
    VAULT,
    WRITER,
)
from tokenhub.server.metrics_state import register_state_metrics
from tokenhub.server.middleware import core_middleware
from tokenhub.server.request_log import prune_request_log
from tokenhub.server.routes import RouteTable
from tokenhub.store import apikey_store
from tokenhub.store.engine import create_engine
from tokenhub.store.meta import get_meta
from tokenhub.store.migrate import current_revision, head_revision, migrate_to_head
from tokenhub.store.spend_store import SpendWriter
from tokenhub.store.vault_store import SqlVaultStorage
from tokenhub.store.writer import BackgroundWriter
from tokenhub.vault import PASSWORD_FILE_ENV, KdfCost, Vault

log = logging.getLogger("tokenhub.server")
VAULT_IDLE_CHECK_S = 5.0
PRUNE_EVERY_S = 3600.0


def create_app(
    loaded: LoadedSettings,
    *,
    kinds: ProviderKinds | None = None,
    clock: Clock | None = None,
    id_source: Callable[[], str] = request_id,
    redactor: Redactor = DEFAULT_REDACTOR,
    rng: random.Random | None = None,
    environ: Mapping[str, str] | None = None,
    migrate: bool = True,
    migrate_in_child: bool = False,
) -> web.Application:
    """Build the application; resources open and close with the app (``cleanup_ctx``).

    ``kinds`` (provider kinds), ``clock``, ``id_source``, ``rng`` and ``environ`` (where
    ``env:`` credentials are read) are injectable so tests are deterministic. The daemon
    sets ``migrate_in_child`` so Alembic's memory stays out of the long-lived process.
    """
    app = web.Application(
        client_max_size=loaded.settings.max_body_bytes,
        middlewares=[core_middleware],
    )
    app[SETTINGS] = loaded
    app[CLOCK] = clock or SystemClock()
    app[NEW_ID] = id_source
    app[METRICS] = Metrics()
    app[EVENTS] = EventBus(app[CLOCK], on_drop=app[METRICS].events_dropped.inc)
    app[TRACING] = make_tracing(loaded.settings.tracing)
    app[REDACTOR] = redactor
    app[ADMIN_TOKENS] = AdminTokens()
    app[ADMIN_SESSIONS] = AdminSessions(app[CLOCK])
    app[LISTENERS] = []
    app[STOPPING] = asyncio.Event()
    app[HANDLING] = set()
    app[STARTED_AT] = app[CLOCK].time()
    routes = RouteTable()
    for module in (
        admin_vault,
        admin_audit,
        admin_tsdb,
        admin_observe,
        admin_session_routes,
        admin_keys,
        system,
        admin_system,
        admin_registry,
        admin_route,
        consumer,
        count_tokens,
        envelope,
        models_api,
        responses,
        responses_store,
    ):
        module.add_routes(routes)
    app[ROUTES] = routes
    routes.install(app)
    register_state_metrics(app)
    app.on_shutdown.append(_close_event_streams)
    app.on_cleanup.append(_stop_tracing)
    app.cleanup_ctx.append(_database(migrate=migrate, in_child=migrate_in_child))
    app.cleanup_ctx.append(_writer)
    app.cleanup_ctx.append(admin_tsdb.tsdb_context)
    app.cleanup_ctx.append(_keyring)
    app.cleanup_ctx.append(_request_log_pruner)
    app.cleanup_ctx.append(_vault(environ))
    app.cleanup_ctx.append(
        _gateway(
            kinds or default_kinds(),
            rng or random.Random(),  # noqa: S311 - spreads traffic; not a secret
            environ,
        )
    )
    app.cleanup_ctx.append(_handlers_settled)  # last in, so first out: before the writer
    return app


def _database(*, migrate: bool, in_child: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(app[SETTINGS].db_url)
        app[ENGINE] = engine
        try:
            if migrate:
                await migrate_to_head(engine, app[SETTINGS].db_url, in_child=in_child)
            revision = await current_revision(engine)
            if revision == head_revision():
                await _load_state(app)
            else:
                log.warning(
                    "database schema is not current; run 'tokenhub db upgrade'",
                    extra={"revision": revision, "head": head_revision()},
                )
            yield
        finally:
            await engine.dispose()

    return database


def _gateway(
    kinds: ProviderKinds, rng: random.Random, environ: Mapping[str, str] | None
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def gateway(app: web.Application) -> AsyncIterator[None]:
        clock = app[CLOCK]
        credentials = Credentials(environ, app[VAULT])
        overloaded = app[METRICS].overloaded
        async with ProviderPool(
            kinds,
            clock,
            settings=app[SETTINGS].settings.upstream,
            environ=environ,
            on_exhausted=lambda provider: overloaded.labels(provider).inc(),
        ) as pool:
            health = HealthTracker(clock, app[SETTINGS].settings.health)
            gw = Gateway(
                engine=app[ENGINE],
                kinds=kinds,
                pool=pool,
                health=health,
                credentials=credentials,
                clock=clock,
                rng=rng,
                metrics=app[METRICS],
                events=app[EVENTS],
                tracing=app[TRACING],
            )
            settings = app[SETTINGS].settings
            if await current_revision(app[ENGINE]) == head_revision():
                await gw.load(settings.providers, settings.models)
            app[GATEWAY] = gw
            prober = asyncio.create_task(gw.probe_forever(settings.health.probe_interval_s))
            try:
                yield
            finally:
                prober.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await prober

    return gateway


def _vault(environ: Mapping[str, str] | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def vault_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS].settings.vault
        cost = KdfCost(settings.kdf_memory_kib, settings.kdf_iterations, settings.kdf_parallelism)
        vault = Vault(
            SqlVaultStorage(app[ENGINE]),
            clock=app[CLOCK],
            idle_timeout_s=settings.idle_timeout_s or None,
            kdf_cost=cost,
            on_event=vault_event_sink(app),
        )
        app[VAULT] = vault
        if await current_revision(app[ENGINE]) == head_revision():
            await vault.load()
            await _headless_unlock(vault, (environ or os.environ).get(PASSWORD_FILE_ENV))
        idler = asyncio.create_task(_check_idle_forever(vault))
        try:
            yield
        finally:
            idler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await idler
            vault.lock()

    return vault_ctx


async def _headless_unlock(vault: Vault, password_file: str | None) -> None:
    if not password_file:
        return
    try:
        await vault.unlock_from_file(password_file)
    except TokenhubError as exc:
        log.error(  # noqa: TRY400 - the message is the whole story; no traceback wanted
            "could not unlock the vault from TOKENHUB_VAULT_PASSWORD_FILE; it stays locked",
            extra={"error": exc.message},
        )
    else:
        log.info("vault unlocked from TOKENHUB_VAULT_PASSWORD_FILE")


async def _check_idle_forever(vault: Vault) -> None:
    while True:
        await asyncio.sleep(VAULT_IDLE_CHECK_S)
        vault.check_idle()


HANDLERS_SETTLE_S = 2.0
"""How long the shutdown waits, after the grace, for cancelled handlers to log their end."""


async def _handlers_settled(app: web.Application) -> AsyncIterator[None]:
    """At shutdown, let the handlers the server just cancelled log their ending first.

    Each writes its request-log row before the gateway and the writer close, so the
    writer's last flush holds them.
    """
    yield
    pending = [task for task in app[HANDLING] if not task.done()]
    if pending:
        await asyncio.wait(pending, timeout=HANDLERS_SETTLE_S)


async def _close_event_streams(app: web.Application) -> None:
    # Before in-flight handlers are awaited, so open event streams do not hold up shutdown.
    app[STOPPING].set()  # and so handlers the shutdown cancels are not taken for departures
    app[EVENTS].close()


async def _stop_tracing(app: web.Application) -> None:
    # The final export is blocking network I/O: keep it off the event loop.
    await asyncio.to_thread(app[TRACING].shutdown)


def make_tracing(settings: TracingSettings) -> Tracing:
    """Span export when an OTLP endpoint is configured; propagation only otherwise."""
    if settings.otlp_endpoint is None:
        return Tracing()
    try:
        return OtelTracing(settings.otlp_endpoint, settings.service_name, settings.sample_ratio)
    except ImportError:
        raise ConfigError(
            "tracing.otlp_endpoint is set but OpenTelemetry is not installed;"
            " install tokenhub[tracing]"
        ) from None


async def _load_state(app: web.Application) -> None:
    stored = await get_meta(app[ENGINE], admin_system.ADMIN_TOKEN_KEY)
    if stored is not None:
        app[ADMIN_TOKENS].token_hash = stored["hash"]
        app[ADMIN_TOKENS].token_id = stored["id"]


async def _keyring(app: web.Application) -> AsyncIterator[None]:
    ring = KeyRing(app[CLOCK])
    app[KEYRING] = ring
    if await current_revision(app[ENGINE]) == head_revision():
        ring.load(await apikey_store.load_keys(app[ENGINE]))
    # Spend is committed with the request rows, by the writer, every flush interval; the
    # writer's cleanup (after this one) makes the last flush.
    app[WRITER].attach(SpendWriter(ring.spend))
    yield


async def _request_log_pruner(app: web.Application) -> AsyncIterator[None]:
    async def prune_forever() -> None:
        while True:
            await asyncio.sleep(PRUNE_EVERY_S)
            for name, prune in (
                ("request_log", prune_request_log),
                ("responses", responses_store.prune_stored_responses),
            ):
                try:
                    removed = await prune(app)
                except SQLAlchemyError:
                    log.exception("pruning failed; will retry", extra={"table": name})
                else:
                    if removed:
                        log.info("pruned old rows", extra={"table": name, "rows": removed})

    pruner = asyncio.create_task(prune_forever())
    yield
    pruner.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pruner


async def _writer(app: web.Application) -> AsyncIterator[None]:
    writer = BackgroundWriter(app[ENGINE], app[SETTINGS].settings.writer, app[METRICS])
    app[WRITER] = writer
    await writer.start()
    yield
    await writer.stop()
