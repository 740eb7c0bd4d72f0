"""A request's hold on its key's budget: reserved before the upstream call, settled once.

The hold is taken after routing (the estimate needs the model) and before any upstream
call; ``log_request`` settles it to the real cost, and ``released_on_error`` releases it
on every exit that does not reach ``log_request`` (cancellation, unexpected errors).
"""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from tokenhub.routing.router import RouteRequest
from tokenhub.server.app_keys import GATEWAY, KEYRING
from tokenhub.server.request_log import RequestSummary


def hold_budget(app: web.Application, summary: RequestSummary, route: RouteRequest) -> None:
    """Reserve the request's estimated cost against its key (402 when it does not fit)."""
    key = summary.key
    if key is None or key.budget_usd is None:
        return
    estimate = app[GATEWAY].estimate_cost(route)
    summary.reservation = app[KEYRING].spend.reserve(key, estimate)


def expect_cost(app: web.Application, summary: RequestSummary, estimate_usd: float) -> None:
    """Raise the hold to the answering model's estimate (a failover may cost more)."""
    if summary.reservation is not None:
        app[KEYRING].spend.expect(summary.reservation, estimate_usd)


class released_on_error:  # noqa: N801 - used like the function-style context managers
    """Release the hold if the request ends in an exception before it was settled.

    A class, not a generator-based context manager: it wraps every consumer request.
    """

    __slots__ = ("app", "summary")

    def __init__(self, app: web.Application, summary: RequestSummary) -> None:
        self.app = app
        self.summary = summary

    def __enter__(self) -> None:
        """Nothing to do on the way in."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """On an exception, release the hold (a no-op once settled); never swallow it."""
        reservation = self.summary.reservation
        if exc_type is not None and reservation is not None:
            self.app[KEYRING].spend.release(reservation)
