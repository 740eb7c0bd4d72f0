"""Structured access log: one redacted JSON line per request."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from tokenhub.server.peer import describe_peer

log = logging.getLogger("tokenhub.access")
REQUEST_ID = "request_id"


class JsonAccessLogger(AbstractAccessLogger):
    """Logs method, path (query string dropped: it may carry keys), status, time, peer."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Emit one access line."""
        self.logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "duration_ms": round(time * 1000, 3),
                "request_id": response.headers.get("X-Request-ID"),
                "peer": describe_peer(request),
                "bytes": response.body_length,
            },
        )

    @property
    def enabled(self) -> bool:
        """Skip formatting entirely when the access logger is switched off."""
        return self.logger.isEnabledFor(logging.INFO)
