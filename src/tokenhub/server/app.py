"""``create_app``: the one factory that builds the aiohttp application from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from tokenhub.clock import Clock, SystemClock, new_id
from tokenhub.config import LoadedSettings
from tokenhub.observability.metrics import Metrics
from tokenhub.observability.redaction import DEFAULT_REDACTOR, Redactor
from tokenhub.server import admin_system, system
from tokenhub.server.admin_auth import ADMIN_TOKENS, AdminTokens, admin_auth_middleware
from tokenhub.server.keys import (
    CLOCK,
    ENGINE,
    LISTENERS,
    METRICS,
    NEW_ID,
    REDACTOR,
    ROUTES,
    SETTINGS,
    STARTED_AT,
    WRITER,
)
from tokenhub.server.middleware import (
    body_limit_middleware,
    error_middleware,
    metrics_middleware,
    request_id_middleware,
)
from tokenhub.server.routes import RouteTable
from tokenhub.store.engine import create_engine
from tokenhub.store.meta import get_meta
from tokenhub.store.migrate import current_revision, head_revision, upgrade
from tokenhub.store.writer import BackgroundWriter

log = logging.getLogger("tokenhub.server")


def create_app(
    loaded: LoadedSettings,
    *,
    clock: Clock | None = None,
    id_source: Callable[[], str] = new_id,
    redactor: Redactor = DEFAULT_REDACTOR,
    migrate: bool = True,
) -> web.Application:
    """Build the application; resources open and close with the app (``cleanup_ctx``)."""
    app = web.Application(
        client_max_size=loaded.settings.max_body_bytes,
        middlewares=[
            request_id_middleware,
            metrics_middleware,
            error_middleware,
            body_limit_middleware,
            admin_auth_middleware,
        ],
    )
    app[SETTINGS] = loaded
    app[CLOCK] = clock or SystemClock()
    app[NEW_ID] = id_source
    app[METRICS] = Metrics()
    app[REDACTOR] = redactor
    app[ADMIN_TOKENS] = AdminTokens()
    app[LISTENERS] = []
    app[STARTED_AT] = app[CLOCK].time()
    routes = RouteTable()
    for module in (system, admin_system):
        module.add_routes(routes)
    app[ROUTES] = routes
    routes.install(app)
    app.cleanup_ctx.append(_database(migrate=migrate))
    app.cleanup_ctx.append(_writer)
    return app


def _database(*, migrate: bool) -> Callable[[web.Application], AsyncIterator[None]]:
    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = create_engine(app[SETTINGS].db_url)
        app[ENGINE] = engine
        try:
            if migrate:
                await upgrade(engine)
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


async def _load_state(app: web.Application) -> None:
    stored = await get_meta(app[ENGINE], admin_system.ADMIN_TOKEN_KEY)
    if stored is not None:
        app[ADMIN_TOKENS].token_hash = stored["hash"]
        app[ADMIN_TOKENS].token_id = stored["id"]


async def _writer(app: web.Application) -> AsyncIterator[None]:
    writer = BackgroundWriter(app[ENGINE], app[SETTINGS].settings.writer, app[METRICS])
    app[WRITER] = writer
    await writer.start()
    yield
    await writer.stop()
