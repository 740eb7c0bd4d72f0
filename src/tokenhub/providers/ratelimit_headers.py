"""Rate-limit response headers read into a ``RateLimitSnapshot`` the router can act on.

OpenAI sends ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` with resets as Go
durations (``"1s"``, ``"6m0s"``, ``"12ms"``); Anthropic sends
``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``
with resets as RFC 3339 timestamps; both send ``retry-after`` (seconds, or an HTTP date)
on a 429, and OpenAI may add ``retry-after-ms``. vLLM sends none of them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from tokenhub.providers.base import RateLimitSnapshot

_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)")
_GO_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ms|us|µs|ns|h|m|s))+")


def parse_go_duration(text: str | None) -> float | None:
    """Seconds in a Go ``time.Duration`` string (``"6m0s"``, ``"12ms"``); None if unreadable."""
    if not text:
        return None
    text = text.strip()
    if text == "0":
        return 0.0
    if _GO_DURATION.fullmatch(text) is None:
        return _number(text)  # some OpenAI-compatible vendors send plain seconds
    return sum(float(n) * _GO_UNITS[unit] for n, unit in _GO_PART.findall(text))


def parse_rfc3339(text: str | None, now: float) -> float | None:
    """Seconds from wall time ``now`` until an RFC 3339 timestamp (0 if past); None if bad."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """``retry-after-ms``, else ``retry-after`` in seconds or as an HTTP date; None if absent."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def openai_snapshot(
    headers: Mapping[str, str], now: float, observed_at: float
) -> RateLimitSnapshot | None:
    """Read OpenAI's ``x-ratelimit-*`` headers (and Retry-After); None when none are sent."""
    retry = parse_retry_after(headers, now)
    remaining = headers.get("x-ratelimit-remaining-requests")
    if remaining is None and headers.get("x-ratelimit-remaining-tokens") is None:
        return _retry_only(retry, observed_at)
    return RateLimitSnapshot(
        limit_requests=_int(headers.get("x-ratelimit-limit-requests")),
        remaining_requests=_int(remaining),
        reset_requests_s=parse_go_duration(headers.get("x-ratelimit-reset-requests")),
        limit_tokens=_int(headers.get("x-ratelimit-limit-tokens")),
        remaining_tokens=_int(headers.get("x-ratelimit-remaining-tokens")),
        reset_tokens_s=parse_go_duration(headers.get("x-ratelimit-reset-tokens")),
        retry_after_s=retry,
        observed_at=observed_at,
    )


def anthropic_snapshot(
    headers: Mapping[str, str], now: float, observed_at: float
) -> RateLimitSnapshot | None:
    """Read ``anthropic-ratelimit-*`` (tokens, else input tokens) and Retry-After."""
    retry = parse_retry_after(headers, now)
    remaining = headers.get("anthropic-ratelimit-requests-remaining")
    family = "tokens" if "anthropic-ratelimit-tokens-remaining" in headers else "input-tokens"
    tokens_left = headers.get(f"anthropic-ratelimit-{family}-remaining")
    if remaining is None and tokens_left is None:
        return _retry_only(retry, observed_at)
    return RateLimitSnapshot(
        limit_requests=_int(headers.get("anthropic-ratelimit-requests-limit")),
        remaining_requests=_int(remaining),
        reset_requests_s=parse_rfc3339(headers.get("anthropic-ratelimit-requests-reset"), now),
        limit_tokens=_int(headers.get(f"anthropic-ratelimit-{family}-limit")),
        remaining_tokens=_int(tokens_left),
        reset_tokens_s=parse_rfc3339(headers.get(f"anthropic-ratelimit-{family}-reset"), now),
        retry_after_s=retry,
        observed_at=observed_at,
    )


def wait_hint(snapshot: RateLimitSnapshot | None) -> float | None:
    """How long a rate-limited provider asks us to wait: Retry-After, else the exhausted reset.

    Without Retry-After, the reset of a bucket at zero wins (the longest if both are);
    failing that, the sooner of the two resets; None when the headers say nothing.
    """
    if snapshot is None:
        return None
    if snapshot.retry_after_s is not None:
        return snapshot.retry_after_s
    exhausted = [
        reset
        for remaining, reset in (
            (snapshot.remaining_requests, snapshot.reset_requests_s),
            (snapshot.remaining_tokens, snapshot.reset_tokens_s),
        )
        if remaining == 0 and reset is not None
    ]
    if exhausted:
        return max(exhausted)
    resets = [r for r in (snapshot.reset_requests_s, snapshot.reset_tokens_s) if r is not None]
    return min(resets) if resets else None


def _retry_only(retry: float | None, observed_at: float) -> RateLimitSnapshot | None:
    return (
        None if retry is None else RateLimitSnapshot(retry_after_s=retry, observed_at=observed_at)
    )


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        number = _number(text)
        return int(number) if number is not None else None
