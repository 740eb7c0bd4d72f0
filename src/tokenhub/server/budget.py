"""A request's hold on its key's budget: reserved before the upstream call, settled once.

The hold is taken after routing (the estimate needs the model) and before any upstream
call; ``log_request`` settles it to the real cost, and ``released_on_error`` releases it
on every exit that does not reach ``log_request`` (cancellation, unexpected errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def released_on_error(app: web.Application, summary: RequestSummary) -> Iterator[None]:
    """Release the hold if the request ends in an exception before it was settled."""
    try:
        yield
    except BaseException:
        if summary.reservation is not None:
            app[KEYRING].spend.release(summary.reservation)  # no-op once settled
        raise
