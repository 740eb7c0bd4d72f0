"""Who may call what: admin credentials for ``/admin/*``, API keys for ``/v1/*``."""

from __future__ import annotations

from aiohttp import web

from tokenhub.server.admin_auth import ADMIN_ACTOR, ADMIN_PREFIX, authorise_admin
from tokenhub.server.consumer_auth import CONSUMER_PREFIX, admit_consumer
from tokenhub.server.routes import Handler


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Admit the request under its path's rules before the handler runs."""
    path = request.path
    if path.startswith(CONSUMER_PREFIX):
        admit_consumer(request)
    elif path.startswith(ADMIN_PREFIX):
        request[ADMIN_ACTOR] = authorise_admin(request)
    return await handler(request)
