"""One request-log row per consumer request, queued on the background writer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tokenhub.auth.apikeys import ApiKey
from tokenhub.auth.spend import Reservation
from tokenhub.dispatch.executor import Attempted
from tokenhub.errors import AttemptRecord
from tokenhub.server.app_keys import (
    CLOCK,
    ENGINE,
    EVENTS,
    KEYRING,
    METRICS,
    REDACTOR,
    SETTINGS,
    TSDB,
    WRITER,
)
from tokenhub.store.request_log_store import prune_requests
from tokenhub.store.tables import RequestLogRow
from tokenhub.types import FieldNote, Usage

REQUEST_LOG = RequestLogRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it


@dataclass(slots=True)
class RequestSummary:
    """What is logged about one request (bodies only when log_bodies is on, redacted)."""

    request_id: str
    endpoint: str
    mode: str | None = None
    status: str = "ok"
    http_status: int = 200
    error_type: str | None = None
    info: Attempted | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    ttft_s: float | None = None
    chunks: int = 0
    """Content chunks a stream brought so far: the output estimate when the client cut it."""
    key: ApiKey | None = None
    body: dict[str, Any] | None = None
    reservation: Reservation | None = None
    """The key's budget hold (server/budget.py), settled here to ``cost_usd``."""
    notes: list[FieldNote] = field(default_factory=list)
    """What a translated stream's answer could not carry (logged with the body)."""


def log_request(app: web.Application, summary: RequestSummary) -> None:
    """Record a finished request: charge its key, count it, publish it, queue its row.

    The one place a request's outcome goes; nothing here waits on I/O. The charge and the
    row are made in the same turn, so the writer commits them together (spend_store.py).
    """
    if summary.key is not None:
        app[KEYRING].spend.finish(summary.key, summary.reservation, summary.cost_usd)
    _count(app, summary)
    _publish(app, summary)
    info = summary.info
    attempts = info.attempts if info is not None else summary.attempts
    app[WRITER].submit(
        REQUEST_LOG,
        {
            "request_id": summary.request_id,
            "ts": app[CLOCK].time(),
            "key_name": summary.key.name if summary.key is not None else None,
            "endpoint": summary.endpoint,
            "mode": summary.mode,
            "model": info.model.id if info is not None else None,
            "provider": info.provider.id if info is not None else None,
            "status": summary.status,
            "http_status": summary.http_status,
            "error_type": summary.error_type,
            "attempts": [a.as_dict() for a in attempts],
            "input_tokens": summary.usage.input_tokens,
            "output_tokens": summary.usage.output_tokens,
            "cost_usd": summary.cost_usd,
            "latency_ms": round(summary.latency_ms, 3),
            "body": summary.body,
        },
    )
    if info is not None:
        app[TSDB].record(
            info.model.id,
            info.provider.id,
            ok=summary.status == "ok",
            latency_s=summary.latency_ms / 1000,
            ttft_s=summary.ttft_s,
            input_tokens=summary.usage.input_tokens,
            output_tokens=summary.usage.output_tokens,
            cost_usd=summary.cost_usd,
        )


def _count(app: web.Application, summary: RequestSummary) -> None:
    metrics = app[METRICS]
    info = summary.info
    model = info.model.id if info is not None else "none"
    provider = info.provider.id if info is not None else "none"
    outcome = summary.status if summary.error_type is None else summary.error_type
    labels = (summary.endpoint, summary.mode or "none", model, provider, outcome)
    metrics.requests.labels(*labels).inc()
    metrics.request_duration.labels(summary.endpoint).observe(summary.latency_ms / 1000)
    if info is None:
        return
    if summary.usage.input_tokens:
        metrics.tokens.labels("input", model, provider).inc(summary.usage.input_tokens)
    if summary.usage.output_tokens:
        metrics.tokens.labels("output", model, provider).inc(summary.usage.output_tokens)
    if summary.cost_usd:
        metrics.cost.labels(model, provider).inc(summary.cost_usd)
    if summary.ttft_s is not None:
        metrics.ttft.labels(provider, model).observe(summary.ttft_s)


def _publish(app: web.Application, summary: RequestSummary) -> None:
    if not app[EVENTS].subscribers:
        return  # nobody listening: do not even build the event
    info = summary.info
    attempts = info.attempts if info is not None else summary.attempts
    app[EVENTS].publish(
        "routing.decision",
        request_id=summary.request_id,
        endpoint=summary.endpoint,
        mode=summary.mode,
        model=info.model.id if info is not None else None,
        provider=info.provider.id if info is not None else None,
        reason=info.decision.reason if info is not None else None,
        status=summary.status,
        error_type=summary.error_type,
        attempts=len(attempts),
        cost_usd=round(summary.cost_usd, 8),
        latency_ms=round(summary.latency_ms, 3),
    )


def capture_body(app: web.Application, request_body: dict[str, Any]) -> dict[str, Any] | None:
    """The redacted request body to log, when ``request_log.log_bodies`` is on."""
    if not app[SETTINGS].settings.request_log.log_bodies:
        return None
    return {"request": app[REDACTOR].value(request_body)}


def add_response(app: web.Application, summary: RequestSummary, response: Any) -> None:
    """Attach the redacted response to a captured body."""
    if summary.body is not None:
        summary.body["response"] = app[REDACTOR].value(response)


async def prune_request_log(app: web.Application) -> int:
    """Delete rows older than ``request_log.retention_days``; return how many."""
    days = app[SETTINGS].settings.request_log.retention_days
    return await prune_requests(app[ENGINE], app[CLOCK].time() - days * 86_400)
