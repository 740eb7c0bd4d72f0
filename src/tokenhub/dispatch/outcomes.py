"""What the executor answers when no attempt can be made: the right error for the reasons.

- Nothing was tried and every model is rejected for a hard reason: a locked vault (503
  ``vault_locked``), the request's own budget (402), a provider's rate limit (429 with the
  smallest Retry-After among them), otherwise 503 ``no_eligible_model`` (with a Retry-After
  when open circuits will close by themselves).
- Something was tried and failed: 502 ``all_providers_failed`` with every attempt; 503
  ``providers_unavailable`` (with Retry-After) when every model that could serve it is now
  cooling down; 503 ``overloaded`` when every try found tokenhub's own pool full.
"""

from __future__ import annotations

import math

from tokenhub.errors import (
    AllProvidersFailedError,
    AttemptRecord,
    BudgetExceededError,
    ErrorKind,
    NoEligibleModelError,
    OverloadedError,
    ProvidersUnavailableError,
    Rejection,
    UpstreamRateLimitedError,
    VaultLockedError,
)
from tokenhub.registry import Registry
from tokenhub.routing.health import HealthTracker
from tokenhub.routing.router import FAILING, PANIC_REASONS, Decision

RATE_LIMITED_REASON = "rate_limited_cooldown"
OVERLOADED = str(ErrorKind.OVERLOADED)
_WAITS = frozenset(
    {RATE_LIMITED_REASON, "provider_down", "quota_exhausted", FAILING, *PANIC_REASONS}
)
"""Reasons that end by themselves after a cooldown."""


_HEALTH_HOLDS = frozenset({FAILING, "provider_down", "provider_probe_in_flight", *PANIC_REASONS})


def held_by_health(rejection: Rejection) -> bool:
    """Whether a model is out only while its (or its provider's) circuit is open.

    Such a model is a peer that comes back by itself: with it, no model is the last chance.
    """
    return _only_for(rejection, _HEALTH_HOLDS)


def panic_possible(rejections: list[Rejection]) -> bool:
    """Whether some model is held out only because it was ejected for transient failures."""
    return any(_only_for(r, PANIC_REASONS) for r in rejections)


def _only_for(rejection: Rejection, reasons: frozenset[str]) -> bool:
    """Whether ``rejection`` has reasons and every one of them is in ``reasons``."""
    return bool(rejection.reasons) and all(x in reasons for x in rejection.reasons)


def nothing_left(
    decision: Decision,
    first: Decision,
    attempts: list[AttemptRecord],
    health: HealthTracker,
    registry: Registry,
) -> Exception:
    """The error for a request no model can take now."""
    rejections = decision.rejections or first.rejections
    waits = [_wait(r.model, health, registry) for r in rejections if _waits(r)]
    soonest = min(waits) if waits and len(waits) == len(rejections) else None
    if attempts:
        return _after_attempts(attempts, soonest)
    if rejections and all(_only(r, "vault_locked") for r in rejections):
        return VaultLockedError(
            "every eligible model needs a key from the vault, which is locked;"
            " unlock it with 'tokenhub vault unlock'"
        )
    if rejections and all(_only(r, "over_budget") for r in rejections):
        return BudgetExceededError(
            "no model fits max_budget_usd for this request: " + _cheapest(rejections)
        )
    limited = [r for r in rejections if r.reasons == [RATE_LIMITED_REASON]]
    if limited and soonest is not None:
        wait = min(_wait(r.model, health, registry) for r in limited)
        names = ", ".join(r.model for r in limited[:5])
        return UpstreamRateLimitedError(
            f"every model that could serve this request is rate-limited by its provider"
            f" ({names}); retry in {math.ceil(wait)} s",
            retry_after=wait,
        )
    return NoEligibleModelError(
        f"no model is eligible for this request ({len(rejections)} rejected)",
        rejections,
        retry_after=soonest,
    )


def _after_attempts(attempts: list[AttemptRecord], soonest: float | None) -> Exception:
    """The error for a request whose attempts all failed (``soonest``: when a model is back)."""
    if all(a.error_kind == OVERLOADED for a in attempts):
        return OverloadedError(
            "tokenhub's connections to every provider that could serve this request are all"
            " in use; retry shortly",
            retry_after=1.0,
        )
    if soonest is not None:
        return ProvidersUnavailableError(
            f"all {len(attempts)} attempts failed and every model that could serve this"
            f" request is cooling down; retry in {math.ceil(soonest)} s",
            attempts,
            retry_after=soonest,
        )
    return AllProvidersFailedError(
        f"all {len(attempts)} attempts failed and no other model is eligible", attempts
    )


def _waits(rejection: Rejection) -> bool:
    return _only_for(rejection, _WAITS)


def _wait(model_id: str, health: HealthTracker, registry: Registry) -> float:
    """Seconds until a model held out by cooldowns may be tried (its or its provider's)."""
    now = health.clock.monotonic()
    entry = registry.models.get(model_id)
    model = health.models.get(model_id)
    provider = None if entry is None else health.providers.get(entry.config.provider)
    return max(
        0.0,
        *(r.cooldown_left(now) for r in (model, provider) if r is not None),
    )


def _only(rejection: Rejection, prefix: str) -> bool:
    return all(reason.startswith(prefix) for reason in rejection.reasons)


def _cheapest(rejections: list[Rejection]) -> str:
    return "; ".join(f"{r.model}: {r.reasons[0]}" for r in rejections[:5])
