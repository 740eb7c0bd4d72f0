"""The X-Tokenhub-* headers every routed response carries."""

from __future__ import annotations

from tokenhub.dispatch.executor import Attempted

REQUEST_ID = "X-Tokenhub-Request-Id"
MODEL = "X-Tokenhub-Model"
PROVIDER = "X-Tokenhub-Provider"
COST = "X-Tokenhub-Cost-USD"
COST_ESTIMATED = "X-Tokenhub-Cost-Estimated"
ATTEMPTS = "X-Tokenhub-Attempts"
REASON = "X-Tokenhub-Reason"


def decision_headers(
    request_id: str, info: Attempted, cost_usd: float, *, estimated: bool = False
) -> dict[str, str]:
    """Headers naming the model, provider, cost, attempt count and routing reason."""
    headers = {
        REQUEST_ID: request_id,
        MODEL: info.model.id,
        PROVIDER: info.provider.id,
        COST: f"{cost_usd:.8f}",
        ATTEMPTS: str(len(info.attempts)),
        REASON: _ascii(info.decision.reason),
    }
    if estimated:
        headers[COST_ESTIMATED] = "true"
    return headers


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")
