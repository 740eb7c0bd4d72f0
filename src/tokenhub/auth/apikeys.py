"""API key material and the record kept for each key (never the key itself).

A key reads ``th-<id>_<secret>``: the id (12 hex characters) finds the record, the
whole key's SHA-256 is compared in constant time. A slow password hash is not needed:
the secret is 190 random bits, not something a person chose.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Literal

KEY_PREFIX = "th-"
KEY_PATTERN = re.compile(r"^th-([0-9a-f]{12})_[A-Za-z0-9_-]{32}$")
Period = Literal["day", "week", "month", "total"]
# A scope exists once an endpoint checks it: every /v1 endpoint today is a chat endpoint.
# /v1/plan (orchestration) and /v1/embeddings bring their scopes when they land.
SCOPES = frozenset({"chat"})
DAY_S = 86_400


@dataclass(slots=True)
class ApiKey:
    """What is stored about one consumer key."""

    id: str
    name: str
    prefix: str
    key_hash: str
    scopes: list[str]
    models: list[str] = field(default_factory=list)
    budget_usd: float | None = None
    budget_period: Period | None = None
    rpm: int | None = None
    spent_usd: float = 0.0
    period_start: float | None = None
    created_at: float = 0.0
    revoked_at: float | None = None

    @property
    def revoked(self) -> bool:
        """True once revoked."""
        return self.revoked_at is not None


def generate_key(key_id: str | None = None) -> tuple[str, str]:
    """A new (key id, full key); pass ``key_id`` to re-key an existing id (rotation).

    The full key is shown once and never stored.
    """
    key_id = key_id or secrets.token_hex(6)
    return key_id, f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(24)}"


def hash_key(full_key: str) -> str:
    """SHA-256 of the full key, hex."""
    return hashlib.sha256(full_key.encode()).hexdigest()


def key_id_of(presented: str) -> str | None:
    """The id part of a well-formed key, or None for anything else."""
    match = KEY_PATTERN.match(presented)
    return match.group(1) if match else None


def matches(record: ApiKey, presented: str) -> bool:
    """Constant-time check of a presented key against the stored hash."""
    return hmac.compare_digest(hash_key(presented), record.key_hash)


def display_prefix(full_key: str) -> str:
    """The part of a key safe to show in lists: ``th-<id>``."""
    return full_key.split("_", 1)[0]


def period_start(period: Period | None, now: float) -> float | None:
    """Start (UTC) of the budget period containing ``now``; None for 'total' or no budget."""
    if period is None or period == "total":
        return None
    t = time.gmtime(now)
    midnight = calendar.timegm((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0))
    if period == "day":
        return float(midnight)
    if period == "week":
        return float(midnight - t.tm_wday * DAY_S)
    return float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))
