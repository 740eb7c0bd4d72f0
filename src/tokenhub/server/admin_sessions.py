"""Browser sessions for the web admin: log in with the admin token, get a cookie.

The cookie is HttpOnly, SameSite=Strict and scoped to ``/admin``; it holds a random
session id, never the token. Every state-changing request made with the cookie must also
carry the session's CSRF token in ``X-CSRF-Token`` (double submit: a page on another
origin can make the browser send the cookie, but cannot read the CSRF token).
Sessions live in memory: a daemon restart logs everyone out.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from aiohttp import web

from tokenhub.clock import Clock
from tokenhub.errors import ForbiddenError, UnauthorizedError

COOKIE = "tokenhub_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
IDLE_S = 30 * 60
ABSOLUTE_S = 12 * 3600


@dataclass(slots=True)
class Session:
    """One logged-in browser."""

    csrf_token: str
    token_id: str | None
    created: float
    last_seen: float


class AdminSessions:
    """Session id -> Session, with idle and absolute expiry on the injected clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._sessions: dict[str, Session] = {}

    def create(self, token_id: str | None) -> tuple[str, Session]:
        """Start a session; return (session id for the cookie, session)."""
        now = self.clock.monotonic()
        session_id = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), token_id, now, now)
        self._sessions[session_id] = session
        return session_id, session

    def end(self, session_id: str) -> None:
        """Log a session out."""
        self._sessions.pop(session_id, None)

    def end_all(self) -> None:
        """Log everyone out (the admin token changed)."""
        self._sessions.clear()

    def check(self, request: web.Request) -> Session:
        """The request's live session, CSRF-checked for unsafe methods; else 401/403."""
        session_id = request.cookies.get(COOKIE, "")
        session = self._sessions.get(session_id)
        now = self.clock.monotonic()
        if (
            session is None
            or now - session.last_seen > IDLE_S
            or now - session.created > ABSOLUTE_S
        ):
            self._sessions.pop(session_id, None)
            raise UnauthorizedError("admin authentication required")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent, session.csrf_token):
                raise ForbiddenError("missing or wrong CSRF token")
        session.last_seen = now
        return session


ADMIN_SESSIONS = web.AppKey("admin_sessions", AdminSessions)


def set_cookie(response: web.StreamResponse, session_id: str, *, secure: bool) -> None:
    """Attach the session cookie with the strict attributes."""
    response.set_cookie(
        COOKIE,
        session_id,
        path="/admin",
        httponly=True,
        samesite="Strict",
        secure=secure,
        max_age=ABSOLUTE_S,
    )
