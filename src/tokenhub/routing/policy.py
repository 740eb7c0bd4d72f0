"""Routing policy: per-request hints, per-mode weight profiles, and the routing settings."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tokenhub.schemas import Capability

DEFAULT_MODE = "normal"
ROUTING_TARGET_PREFIX = "tokenhub/"
AUTO_TARGET = "auto"


class WeightProfile(BaseModel):
    """How much each score component counts in one mode (all non-negative)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cost: float = Field(ge=0, le=10)
    latency: float = Field(ge=0, le=10)
    failure: float = Field(ge=0, le=10)
    weight: float = Field(ge=0, le=10)
    min_weight: int = Field(1, ge=1, le=10)


DEFAULT_PROFILES: dict[str, WeightProfile] = {
    "cheap": WeightProfile(cost=0.7, latency=0.1, failure=0.15, weight=0.05),
    "normal": WeightProfile(cost=0.3, latency=0.3, failure=0.2, weight=0.2),
    "high_confidence": WeightProfile(
        cost=0.05, latency=0.05, failure=0.3, weight=0.6, min_weight=6
    ),
    "planning": WeightProfile(cost=0.1, latency=0.1, failure=0.2, weight=0.6, min_weight=5),
    "adversarial": WeightProfile(cost=0.15, latency=0.1, failure=0.25, weight=0.5, min_weight=4),
}


class RoutingSettings(BaseModel):
    """Routing configuration, editable through ``/admin/v1/routing`` and persisted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_mode: str = DEFAULT_MODE
    profiles: dict[str, WeightProfile] = Field(default_factory=lambda: dict(DEFAULT_PROFILES))
    context_headroom: float = Field(0.12, ge=0.0, le=0.5)
    default_output_tokens: int = Field(1024, ge=1)
    attempt_budget: int = Field(4, ge=1, le=20)
    request_timeout_s: float = Field(120.0, gt=0, le=3600)
    top_k: int = Field(2, ge=1, le=50)
    selection_margin: float = Field(0.05, ge=0.0, le=1.0)
    traffic_weights: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _default_mode_exists(self) -> RoutingSettings:
        if self.default_mode not in self.profiles:
            raise ValueError(f"default_mode '{self.default_mode}' has no profile")
        for model, weight in self.traffic_weights.items():
            if weight < 0:
                raise ValueError(f"traffic_weights['{model}'] must be >= 0")
        return self


class Policy(BaseModel):
    """Per-request routing hints (body field ``tokenhub`` or ``X-Tokenhub-*`` headers)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: str | None = None
    max_budget_usd: float | None = Field(None, gt=0)
    max_latency_ms: float | None = Field(None, gt=0)
    min_weight: int | None = Field(None, ge=1, le=10)
    capabilities: list[Capability] = []
    strict: bool | None = None
    """Refuse (400) rather than drop fields the routed model's format cannot carry;
    None: the ``strict_fields`` setting decides."""

    def merged(self, other: dict[str, Any]) -> Policy:
        """This policy with fields of ``other`` (already validated) taking precedence."""
        return self.model_copy(update={k: v for k, v in other.items() if v is not None})


def target_mode(model: str, settings: RoutingSettings) -> str | None:
    """The mode a routing target names ('auto', 'tokenhub/cheap'), or None for a model id."""
    if model == AUTO_TARGET:
        return settings.default_mode
    if model.startswith(ROUTING_TARGET_PREFIX):
        return model[len(ROUTING_TARGET_PREFIX) :]
    return None


def routing_targets(settings: RoutingSettings) -> list[str]:
    """Every routing target clients may name as ``model``."""
    return [AUTO_TARGET, *(f"{ROUTING_TARGET_PREFIX}{mode}" for mode in settings.profiles)]
