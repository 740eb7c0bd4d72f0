"""Rate-limit headers (OpenAI, Anthropic, Retry-After) to a RateLimitSnapshot."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from multidict import CIMultiDict

from tokenhub.providers.base import RateLimitSnapshot
from tokenhub.providers.ratelimit_headers import (
    anthropic_snapshot,
    openai_snapshot,
    parse_go_duration,
    parse_retry_after,
    parse_rfc3339,
    wait_hint,
)

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("6m0s", 360.0),
        ("12ms", 0.012),
        ("1h2m3.5s", 3723.5),
        ("0s", 0.0),
        ("0", 0.0),
        ("250us", 0.00025),
        ("1.5s", 1.5),
        ("20", 20.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("5 minutes", None),
    ],
)
def test_go_durations(text, seconds):
    """OpenAI's Go-duration resets parse to seconds; plain numbers are seconds; junk is None."""
    expected = None if seconds is None else pytest.approx(seconds)
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2023-11-14T22:13:50Z", 30.0),
        ("2023-11-14T23:13:50+01:00", 30.0),
        ("2023-11-14T22:13:20.500Z", 0.5),
        ("2023-11-14T22:00:00Z", 0.0),
        ("2023-11-14T22:13:50", None),
        ("tomorrow", None),
        (None, None),
    ],
)
def test_rfc3339_resets(text, seconds):
    """Anthropic's RFC 3339 resets become seconds from now (0 once past; None if unreadable)."""
    assert parse_rfc3339(text, NOW) == seconds


def test_retry_after_forms():
    """Retry-After in seconds, fractional seconds, an HTTP date, and retry-after-ms first."""
    assert parse_retry_after({"retry-after": "7"}, NOW) == 7.0
    assert parse_retry_after({"retry-after": "0.5"}, NOW) == 0.5
    date = formatdate(NOW + 90, usegmt=True)
    assert parse_retry_after({"retry-after": date}, NOW) == 90.0
    both = {"retry-after": "7", "retry-after-ms": "1500"}
    assert parse_retry_after(both, NOW) == 1.5
    assert parse_retry_after({"retry-after": "-3"}, NOW) == 0.0
    assert parse_retry_after({"retry-after": "later"}, NOW) is None
    assert parse_retry_after({}, NOW) is None


def test_openai_snapshot_reads_every_header():
    """All six x-ratelimit-* headers and Retry-After land in the snapshot, case-insensitively."""
    headers = CIMultiDict(
        {
            "X-RateLimit-Limit-Requests": "500",
            "X-RateLimit-Remaining-Requests": "0",
            "X-RateLimit-Reset-Requests": "6m0s",
            "X-RateLimit-Limit-Tokens": "30000",
            "X-RateLimit-Remaining-Tokens": "29000",
            "X-RateLimit-Reset-Tokens": "12ms",
            "Retry-After": "2",
        }
    )
    snapshot = openai_snapshot(headers, NOW, 55.0)
    assert snapshot == RateLimitSnapshot(
        limit_requests=500,
        remaining_requests=0,
        reset_requests_s=360.0,
        limit_tokens=30000,
        remaining_tokens=29000,
        reset_tokens_s=0.012,
        retry_after_s=2.0,
        observed_at=55.0,
    )


def test_openai_snapshot_absent_or_retry_only():
    """No headers: None; only Retry-After: a snapshot with just that."""
    assert openai_snapshot({}, NOW, 1.0) is None
    only = openai_snapshot({"retry-after": "3"}, NOW, 1.0)
    assert only == RateLimitSnapshot(retry_after_s=3.0, observed_at=1.0)


def test_anthropic_snapshot_prefers_total_tokens():
    """anthropic-ratelimit-* resets are RFC 3339; the tokens family wins over input-tokens."""
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": "2023-11-14T22:14:20Z",
        "anthropic-ratelimit-tokens-limit": "90000",
        "anthropic-ratelimit-tokens-remaining": "80000",
        "anthropic-ratelimit-tokens-reset": "2023-11-14T22:13:30Z",
        "anthropic-ratelimit-input-tokens-remaining": "1",
    }
    snapshot = anthropic_snapshot(headers, NOW, 9.0)
    assert snapshot is not None
    assert (snapshot.limit_requests, snapshot.remaining_requests) == (50, 49)
    assert snapshot.reset_requests_s == 60.0
    assert (snapshot.limit_tokens, snapshot.remaining_tokens) == (90000, 80000)
    assert snapshot.reset_tokens_s == 10.0
    assert snapshot.retry_after_s is None


def test_anthropic_snapshot_falls_back_to_input_tokens():
    """Without the combined tokens headers, the input-tokens family is used."""
    headers = {
        "anthropic-ratelimit-input-tokens-limit": "40000",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2023-11-14T22:13:25Z",
        "retry-after": "5",
    }
    snapshot = anthropic_snapshot(headers, NOW, 0.0)
    assert snapshot is not None
    assert (snapshot.limit_tokens, snapshot.remaining_tokens) == (40000, 0)
    assert snapshot.reset_tokens_s == 5.0
    assert snapshot.retry_after_s == 5.0
    assert anthropic_snapshot({}, NOW, 0.0) is None


def test_wait_hint_order():
    """Retry-After wins; else the exhausted bucket's reset (longest); else the sooner reset."""
    assert wait_hint(None) is None
    assert wait_hint(RateLimitSnapshot()) is None
    assert wait_hint(RateLimitSnapshot(retry_after_s=4.0, reset_requests_s=60.0)) == 4.0
    exhausted = RateLimitSnapshot(
        remaining_requests=0, reset_requests_s=30.0, remaining_tokens=0, reset_tokens_s=50.0
    )
    assert wait_hint(exhausted) == 50.0
    tokens_out = RateLimitSnapshot(
        remaining_requests=5, reset_requests_s=30.0, remaining_tokens=0, reset_tokens_s=2.0
    )
    assert wait_hint(tokens_out) == 2.0
    neither = RateLimitSnapshot(reset_requests_s=30.0, reset_tokens_s=2.0)
    assert wait_hint(neither) == 2.0


def test_malformed_numbers_are_none():
    """Unreadable counts are None rather than errors; "12.0" still reads as 12."""
    headers = {"x-ratelimit-remaining-requests": "lots", "x-ratelimit-limit-requests": "12.0"}
    snapshot = openai_snapshot(headers, NOW, 0.0)
    assert snapshot is not None
    assert snapshot.remaining_requests is None
    assert snapshot.limit_requests == 12
