"""Small pieces of the OpenAI wire format: SSE framing and rate-limit headers."""

from __future__ import annotations

import math
from typing import Any

import orjson

from tokenhub.sim.core import RateSnapshot


def go_duration(seconds: float) -> str:
    """Format like Go's ``time.Duration`` as OpenAI's reset headers do: 1s, 6m0s, 12ms."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms" if seconds > 0 else "0s"
    minutes, secs = divmod(round(seconds, 3), 60)
    hours, minutes = divmod(int(minutes), 60)
    text = f"{secs:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    return f"{minutes}m{text}" if minutes else text


def rate_headers(limits: RateSnapshot) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*`` headers, sent on every answer."""
    reset = go_duration(limits.reset_s)
    return {
        "x-ratelimit-limit-requests": str(limits.requests_limit),
        "x-ratelimit-limit-tokens": str(limits.tokens_limit),
        "x-ratelimit-remaining-requests": str(limits.requests_remaining),
        "x-ratelimit-remaining-tokens": str(limits.tokens_remaining),
        "x-ratelimit-reset-requests": reset,
        "x-ratelimit-reset-tokens": reset,
    }


def sse(payload: dict[str, Any]) -> bytes:
    """One ``data:`` server-sent event."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def with_retry_after(headers: dict[str, str], retry: float | None) -> dict[str, str]:
    """Add ``retry-after`` (whole seconds, rounded up) when the answer says to wait."""
    if retry is not None:
        headers["retry-after"] = str(math.ceil(retry))
    return headers
