"""SQLModel tables: what tokenhub persists. Migrations in ``migrations/`` create them.

Times are UNIX seconds as floats: the same type on SQLite and PostgreSQL, cheap to sort
and to bucket. Registry objects keep their full JSON shape (``schemas.py``) in ``data``
so the API, the CLI and the config file stay one definition.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, LargeBinary
from sqlmodel import Field, SQLModel


class ProviderRow(SQLModel, table=True):
    """A provider instance (``schemas.ProviderConfig`` in ``data``)."""

    __tablename__ = "providers"

    id: str = Field(primary_key=True, max_length=128)
    type: str = Field(max_length=32)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: float
    updated_at: float


class ModelRow(SQLModel, table=True):
    """A model served by a provider (``schemas.ModelConfig`` in ``data``)."""

    __tablename__ = "models"

    id: str = Field(primary_key=True, max_length=128)
    # No foreign key (migration 0005): the provider may be declared in the config file.
    provider_id: str = Field(index=True, max_length=128)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: float
    updated_at: float


class RoutingConfigRow(SQLModel, table=True):
    """A named piece of routing configuration, e.g. one mode's weight profile."""

    __tablename__ = "routing_config"

    key: str = Field(primary_key=True, max_length=128)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: float


class MetaRow(SQLModel, table=True):
    """A small named singleton value (e.g. the admin token's hash)."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True, max_length=128)
    value: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_at: float


class AuditRow(SQLModel, table=True):
    """One admin action: when, who, what, on which target, and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_ts", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    ts: float
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=256)
    outcome: str = Field(max_length=32)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class RequestLogRow(SQLModel, table=True):
    """One consumer request: the routing decision, its attempts, usage and cost."""

    __tablename__ = "request_log"
    __table_args__ = (Index("ix_request_log_ts", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=64, index=True)
    ts: float
    key_name: str | None = Field(default=None, max_length=128)
    endpoint: str = Field(max_length=64)
    mode: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=128)
    provider: str | None = Field(default=None, max_length=128)
    status: str = Field(max_length=32)
    http_status: int
    error_type: str | None = Field(default=None, max_length=64)
    attempts: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: float = 0.0
    # Redacted request and response bodies, only when request_log.log_bodies is on.
    body: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class RewardRow(SQLModel, table=True):
    """One bandit observation: context features, the chosen arm and its reward.

    Not written yet: the learning router (an open issue) fills it; the table is in the
    initial migration so that it needs none.
    """

    __tablename__ = "rewards"
    __table_args__ = (Index("ix_rewards_ts", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=64, index=True)
    ts: float
    mode: str | None = Field(default=None, max_length=64)
    model: str = Field(max_length=128)
    provider: str = Field(max_length=128)
    features: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    success: bool
    latency_ms: float = 0.0
    cost_usd: float = 0.0
    reward: float = 0.0


class ApiKeyRow(SQLModel, table=True):
    """A consumer API key: only its hash is stored, with its limits and spend."""

    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=128, unique=True)
    prefix: str = Field(max_length=32)
    key_hash: str = Field(max_length=256)
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    models: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    budget_usd: float | None = None
    budget_period: str | None = Field(default=None, max_length=16)
    rpm: int | None = None
    spent_usd: float = 0.0
    period_start: float | None = None
    created_at: float
    revoked_at: float | None = None


class VaultHeaderRow(SQLModel, table=True):
    """The vault's singleton header (``id`` is always 1): KDF parameters, wrapped data key.

    ``kdf`` is ``crypto.KdfParams.to_json()`` (salt base64); ``wrapped_key`` is the
    12-byte AES-GCM nonce followed by the encrypted data key and its 16-byte tag.
    """

    __tablename__ = "vault_header"
    __table_args__ = (CheckConstraint("id = 1", name="ck_vault_header_singleton"),)

    id: int = Field(primary_key=True)
    version: int
    kdf: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: float
    rotated_at: float | None = None


class VaultSecretRow(SQLModel, table=True):
    """One secret encrypted with the vault's data key, addressed by (secret_id, purpose)."""

    __tablename__ = "vault_secrets"

    secret_id: str = Field(primary_key=True, max_length=128)
    purpose: str = Field(primary_key=True, max_length=64)
    nonce: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: float
    updated_at: float


class TsdbPointRow(SQLModel, table=True):
    """One TSDB bucket: a (model, provider) series over [ts, ts + tier) seconds.

    ``tier`` is the resolution in seconds (10, 60 or 3600). ``rolled`` marks a 10 s or
    1 min bucket already merged into the next tier, so each bucket is rolled up once
    and late rows are still picked up. Histograms are ``tsdb_hist.Histogram.encode()``:
    ``[first bucket index, count, count, ...]``.
    """

    __tablename__ = "tsdb_points"
    __table_args__ = (Index("ix_tsdb_points_tier_ts", "tier", "ts"),)

    id: int | None = Field(default=None, primary_key=True)
    tier: int
    ts: float
    model: str = Field(max_length=128)
    provider: str = Field(max_length=128)
    rolled: bool = False
    count: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    ttft: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ResponseRow(SQLModel, table=True):
    """A stored Responses API response: its input items and the response object.

    ``key_id`` is the API key that created it (None: a request without a key); only the
    same key reads it back. ``previous_response_id`` links a conversation's turns.
    """

    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_created_at", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    key_id: str | None = Field(default=None, max_length=64)
    created_at: float
    previous_response_id: str | None = Field(default=None, max_length=64)
    input_items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    response: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
