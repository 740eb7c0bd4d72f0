"""The TokenhubError tree: every failure tokenhub reports is one of these types.

Each error carries a stable ``type`` string (what API clients match on) and an HTTP
``status``; ``server/errors.py`` is the one place that renders them per API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class TokenhubError(Exception):
    """Base of every error tokenhub raises on purpose."""

    type: str = "internal_error"
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def details(self) -> dict[str, Any]:
        """Extra JSON-safe fields for the error body (never secrets)."""
        return {}


class ConfigError(TokenhubError):
    """A setting is unknown or invalid; the message names the key and its source."""

    type = "config_error"
    status = 400


class InvalidRequestError(TokenhubError):
    """The client's request is malformed; ``param`` names the offending field."""

    type = "invalid_request"
    status = 400

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param

    def details(self) -> dict[str, Any]:
        """Name the offending field."""
        return {"param": self.param} if self.param else {}


class UnauthorizedError(TokenhubError):
    """Missing or invalid credentials; the message never says which part was wrong."""

    type = "unauthorized"
    status = 401


class ForbiddenError(TokenhubError):
    """Authenticated, but not allowed to do this."""

    type = "forbidden"
    status = 403


class NotFoundError(TokenhubError):
    """The addressed resource does not exist."""

    type = "not_found"
    status = 404


class ModelNotFoundError(NotFoundError):
    """The ``model`` a client named is neither a model, an alias nor a routing target."""

    type = "model_not_found"


class ConflictError(TokenhubError):
    """The resource already exists or is in a state that forbids the change."""

    type = "conflict"
    status = 409


class PayloadTooLargeError(TokenhubError):
    """The request body is larger than ``max_body_bytes``."""

    type = "payload_too_large"
    status = 413


class RateLimitedError(TokenhubError):
    """The caller exceeded its own rate limit."""

    type = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamRateLimitedError(RateLimitedError):
    """Every model that could serve the request is waiting out a provider's rate limit."""

    def details(self) -> dict[str, Any]:
        """The wait the client should honour."""
        return {"retry_after": self.retry_after}


class BudgetExceededError(TokenhubError):
    """The request would exceed a budget (per request or per API key)."""

    type = "budget_exceeded"
    status = 402


class VaultLockedError(TokenhubError):
    """The vault is locked, so escrowed credentials cannot be used."""

    type = "vault_locked"
    status = 503


class ErrorKind(StrEnum):
    """How an upstream failure is classified: the contract the router acts on."""

    CONTEXT_OVERFLOW = "context_overflow"
    RATE_LIMITED = "rate_limited"
    TRANSIENT = "transient"
    AUTH = "auth"
    QUOTA_EXHAUSTED = "quota_exhausted"
    MODEL_UNAVAILABLE = "model_unavailable"
    FATAL = "fatal"
    OVERLOADED = "overloaded"
    """Tokenhub's own connection slots for the provider stayed full: no fault of the upstream."""


class OverloadedError(TokenhubError):
    """Tokenhub itself is saturated (every candidate's connection slots full); retry later."""

    type = "overloaded"
    status = 503

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def details(self) -> dict[str, Any]:
        """Seconds after which a retry may find a free slot."""
        return {"retry_after": self.retry_after}


class ProviderError(TokenhubError):
    """An upstream call failed; ``kind`` tells the router what to do about it.

    ``retries`` counts the adapter's own retries before it gave up.
    """

    type = "provider_error"
    status = 502

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        upstream_status: int | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
        retries: int = 0,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.upstream_status = upstream_status
        self.retry_after = retry_after
        self.provider = provider
        self.retries = retries

    def details(self) -> dict[str, Any]:
        """Describe the failure without the upstream body (it may echo secrets)."""
        out: dict[str, Any] = {"kind": str(self.kind)}
        if self.upstream_status is not None:
            out["upstream_status"] = self.upstream_status
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        return out


@dataclass(slots=True)
class Rejection:
    """Why one model was not eligible for a request."""

    model: str
    reasons: list[str] = field(default_factory=list)


class NoEligibleModelError(TokenhubError):
    """No model passed eligibility; ``rejections`` says why, per model."""

    type = "no_eligible_model"
    status = 503

    def __init__(
        self, message: str, rejections: list[Rejection], *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.rejections = rejections
        self.retry_after = retry_after

    def details(self) -> dict[str, Any]:
        """List every model with its rejection reasons."""
        return {"rejections": {r.model: r.reasons for r in self.rejections}}


@dataclass(slots=True)
class AttemptRecord:
    """One upstream attempt, as reported to clients and logs."""

    model: str
    provider: str
    outcome: str
    error_kind: str | None = None
    error: str | None = None
    upstream_status: int | None = None
    latency_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """Render as JSON-safe dict."""
        return {
            "model": self.model,
            "provider": self.provider,
            "outcome": self.outcome,
            "error_kind": self.error_kind,
            "error": self.error,
            "upstream_status": self.upstream_status,
            "latency_ms": round(self.latency_ms, 3),
        }


class AllProvidersFailedError(TokenhubError):
    """Every attempt within the attempt budget failed; ``attempts`` lists them."""

    type = "all_providers_failed"
    status = 502

    def __init__(self, message: str, attempts: list[AttemptRecord]) -> None:
        super().__init__(message)
        self.attempts = attempts

    def details(self) -> dict[str, Any]:
        """List each attempt and how it failed."""
        return {"attempts": [a.as_dict() for a in self.attempts]}


class ProvidersUnavailableError(AllProvidersFailedError):
    """Every attempt failed and every model that could serve is now held out by a cooldown.

    A 503 with ``Retry-After`` (the soonest cooldown's end), not a 502: the providers are
    down as far as tokenhub can tell, and the client should come back later.
    """

    type = "providers_unavailable"
    status = 503

    def __init__(self, message: str, attempts: list[AttemptRecord], *, retry_after: float) -> None:
        super().__init__(message, attempts)
        self.retry_after = retry_after


class DaemonUnavailableError(TokenhubError):
    """The CLI could not reach a daemon (client side only)."""

    type = "daemon_unavailable"
    status = 503


class DatabaseUnavailableError(TokenhubError):
    """The database cannot be reached or used; the message never holds its password."""

    type = "database_unavailable"
    status = 503


class VaultWrongPasswordError(ForbiddenError):
    """The vault password did not unwrap the data key; nothing changed.

    403, not 401: the caller's admin credentials were fine, so clients must not treat
    this as a logout. ``retry_after`` says when the next attempt will be accepted.
    """

    type = "vault_wrong_password"

    def __init__(self, message: str, *, failed_attempts: int, retry_after: float) -> None:
        super().__init__(message)
        self.failed_attempts = failed_attempts
        self.retry_after = retry_after

    def details(self) -> dict[str, Any]:
        """How many attempts failed in a row and when the next one is accepted."""
        return {"failed_attempts": self.failed_attempts, "retry_after": self.retry_after}


class VaultThrottledError(RateLimitedError):
    """Too many wrong vault passwords: attempts are refused until ``retry_after`` passes."""

    type = "vault_throttled"

    def details(self) -> dict[str, Any]:
        """Seconds until the next attempt is accepted."""
        return {"retry_after": self.retry_after}


class VaultUninitialisedError(ConflictError):
    """The vault has not been created yet (``init`` first)."""

    type = "vault_uninitialised"


class VaultAlreadyInitialisedError(ConflictError):
    """``init`` was called on a vault that already exists."""

    type = "vault_already_initialised"


class UntranslatableFieldError(InvalidRequestError):
    """Strict field handling: the chosen upstream's format cannot carry a field sent."""

    type = "untranslatable_field"

    def __init__(self, field: str, reason: str, upstream_format: str) -> None:
        super().__init__(
            f"'{field}' cannot be carried to the {upstream_format}-format model this request"
            f" was routed to ({reason}); strict field handling refuses rather than drops it",
            param=field,
        )


class RedirectFieldError(InvalidRequestError):
    """A body field would choose where, or with what credential, tokenhub sends a request."""

    type = "forbidden_field"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"'{path}' would choose the upstream's address, credential or headers; tokenhub"
            " never takes those from a request (its provider configuration decides them)",
            param=path,
        )


class VaultWeakPasswordError(InvalidRequestError):
    """The new vault password is too short; the message says the minimum."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="password")


class VaultCorruptError(TokenhubError):
    """Stored vault data is unreadable or failed authentication under the right key."""

    type = "vault_corrupt"
    status = 500


class VaultPasswordFileError(ConfigError):
    """The vault password file is missing, unreadable or empty (its content never shown)."""

    type = "vault_password_file"
