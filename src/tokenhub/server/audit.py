"""Record admin actions in the audit log, through the background writer."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tokenhub.server.app_keys import CLOCK, EVENTS, REDACTOR, WRITER
from tokenhub.store.tables import AuditRow

AUDIT = AuditRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it


def audit(
    app: web.Application,
    actor: str,
    action: str,
    *,
    target: str | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> None:
    """Queue one audit row (details redacted) and publish it as an ``admin.action`` event."""
    app[EVENTS].publish("admin.action", actor=actor, action=action, target=target, outcome=outcome)
    app[WRITER].submit(
        AUDIT,
        {
            "ts": app[CLOCK].time(),
            "actor": actor,
            "action": action,
            "target": target,
            "outcome": outcome,
            "details": app[REDACTOR].value(details or {}),
        },
    )
