"""The X-Tokenhub-* headers every routed response carries."""

from __future__ import annotations

from collections.abc import Sequence

from tokenhub.dispatch.executor import Attempted
from tokenhub.types import FieldNote

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


WARNINGS = "X-Tokenhub-Warnings"
_MAX_WARNINGS_BYTES = 4096
"""Past this the header would risk proxies' limits (8 KB headers in all, typically)."""


def warnings_header(notes: Sequence[FieldNote]) -> dict[str, str]:
    """``X-Tokenhub-Warnings``: what was dropped and why, ``; ``-separated (none: no header).

    A list too long for a header ends with how many more the body's ``tokenhub`` field has.
    """
    if not notes:
        return {}
    shown: list[str] = []
    size = 0
    for note in notes:
        text = _ascii(str(note)).replace(";", ",")
        if size + len(text) > _MAX_WARNINGS_BYTES:
            shown.append(f"and {len(notes) - len(shown)} more")
            break
        shown.append(text)
        size += len(text) + 2
    return {WARNINGS: "; ".join(shown)}
