"""Who may call what: admin credentials for ``/admin/*``, API keys for ``/v1/*``.

A plain function the core middleware calls before the handler, not a middleware of its
own: every aiohttp middleware adds a wrapper and a coroutine frame to each request.
"""

from __future__ import annotations

from aiohttp import web

from tokenhub.server.admin_auth import ADMIN_ACTOR, ADMIN_PREFIX, authorise_admin
from tokenhub.server.consumer_auth import CONSUMER_PREFIX, admit_consumer


def admit(request: web.Request) -> None:
    """Admit the request under its path's rules, or raise the error that refuses it."""
    path = request.path
    if path.startswith(CONSUMER_PREFIX):
        admit_consumer(request)
    elif path.startswith(ADMIN_PREFIX):
        request[ADMIN_ACTOR] = authorise_admin(request)
