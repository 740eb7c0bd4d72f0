"""Admin authorisation: the Unix socket's owner, a bearer admin token, or a web session.

The socket is created 0600, so reaching it proves the caller runs as the daemon's user
(as with a container engine's socket). Over TCP a bearer token is required (only its
SHA-256 is stored, compared in constant time), or a web-admin session cookie obtained by
logging in with that token (``admin_sessions.py``). Failures get a bare 401.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

from tokenhub.errors import UnauthorizedError
from tokenhub.server.admin_sessions import ADMIN_SESSIONS, COOKIE
from tokenhub.server.peer import is_unix_socket, peer_uid

ADMIN_PREFIX = "/admin/"
TOKEN_PREFIX = "thadm_"  # noqa: S105 - a public prefix, not a secret
ADMIN_ACTOR = web.RequestKey("admin_actor", str)


class AdminTokens:
    """The current admin token's hash and its id (for the audit log)."""

    def __init__(self, token_hash: str | None = None, token_id: str | None = None) -> None:
        self.token_hash = token_hash
        self.token_id = token_id

    def verify(self, presented: str) -> bool:
        """Constant-time check of a presented token against the stored hash."""
        if self.token_hash is None:
            return False
        return hmac.compare_digest(hash_token(presented), self.token_hash)


def hash_token(token: str) -> str:
    """SHA-256 of a high-entropy token (no KDF needed: tokens are random, not passwords)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_admin_token() -> str:
    """A fresh random admin token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


ADMIN_TOKENS = web.AppKey("admin_tokens", AdminTokens)


LOGIN_PATH = "/admin/v1/session"


def authorise_admin(request: web.Request) -> str:
    """Return the actor name for the audit log, or raise UnauthorizedError."""
    if is_unix_socket(request):
        return f"unix:uid={peer_uid(request)}"
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    tokens = request.app[ADMIN_TOKENS]
    if scheme.lower() == "bearer" and tokens.verify(token.strip()):
        return f"token:{tokens.token_id}"
    if request.path == LOGIN_PATH and request.method == "POST":
        return "login"  # the login handler checks the token itself
    if COOKIE in request.cookies:
        session = request.app[ADMIN_SESSIONS].check(request)
        return f"session:{session.token_id}"
    raise UnauthorizedError("admin authentication required")
