"""Candidates: per-model facts precomputed per registry version, scores, and the draw.

The router (``routing/router.py``) decides eligibility; this module holds what an eligible
model becomes (a ``Candidate`` with its score parts) and how the first slot is drawn among
the near-best.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import NamedTuple

from tokenhub.registry import Registry
from tokenhub.routing.policy import RoutingSettings, WeightProfile
from tokenhub.schemas import ModelConfig, ProviderConfig

PER_MILLION = 1_000_000.0
LATENCY_SCALE_FLOOR_MS = 250.0
"""Latency is scored as a fraction of the slowest candidate's, but never of less than this:
a 20 ms gap between two fast models costs at most 20/250 of the latency weight, so a
model's error rate outweighs small latency differences (docs/ROUTING.md, "Scoring")."""


class Candidate(NamedTuple):
    """An eligible model with its estimate and weighted score parts (higher score is better).

    A named tuple: a decision over 100 models builds 100 of them, and ``build_candidates``
    builds each in C from a plain tuple (0.30 µs here, against 0.33 to 0.51 µs for a
    slotted dataclass's ``__init__``).
    """

    model: ModelConfig
    est_cost_usd: float
    expected_latency_ms: float
    failure_rate: float
    weight_norm: float
    score: float = 0.0
    scale: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    """The multipliers of weight, cost, latency and failure rate the score was made with."""

    @property
    def components(self) -> dict[str, float]:
        """The weighted score parts, for explanations (``route test``); they sum to ``score``."""
        weight, cost, latency, failure = self.scale
        return {
            "weight": weight * self.weight_norm,
            "cost": -cost * self.est_cost_usd,
            "latency": -latency * self.expected_latency_ms,
            "failure": -failure * self.failure_rate,
        }


_new_candidate = tuple.__new__
"""Builds a Candidate from one tuple of its fields, skipping NamedTuple's Python ``__new__``."""


@dataclass(slots=True)
class Static:
    """What the router needs of one model that only a registry change can change."""

    model: ModelConfig
    provider: ProviderConfig
    model_id: str
    provider_id: str
    enabled: bool
    weight: int
    weight_norm: float
    max_context: int
    usable_context: int
    """The context a request may fill: ``max_context`` less the configured headroom."""
    expected_latency_ms: float
    in_price: float
    out_price: float
    caps: frozenset[str]


Row = tuple[Static, float, float, float]
"""An eligible model during scoring: its facts, estimated cost, latency and failure rate."""


def precompute(model: ModelConfig, registry: Registry, headroom: float) -> Static:
    """The static facts of ``model`` (``headroom``: the share of its context usable)."""
    provider = registry.providers[model.provider].config
    return Static(
        model=model,
        provider=provider,
        model_id=model.id,
        provider_id=provider.id,
        enabled=model.enabled and provider.enabled,
        weight=model.weight,
        weight_norm=(model.weight - 1) / 9.0,
        max_context=model.max_context_tokens,
        usable_context=int(model.max_context_tokens * headroom),
        expected_latency_ms=model.expected_latency_ms,
        in_price=model.input_usd_per_mtok / PER_MILLION,
        out_price=model.output_usd_per_mtok / PER_MILLION,
        caps=frozenset(model.capabilities),
    )


def build_candidates(rows: list[Row], profile: WeightProfile) -> list[Candidate]:
    """Candidates with their scores.

    Cost is scaled by the largest among them; latency by the largest or
    ``LATENCY_SCALE_FLOOR_MS``, whichever is more.
    """
    max_cost = max([row[1] for row in rows], default=0.0) or 1.0
    max_latency = max(LATENCY_SCALE_FLOOR_MS, max([row[2] for row in rows], default=0.0))
    w_weight, w_cost = profile.weight, profile.cost / max_cost
    w_latency, w_failure = profile.latency / max_latency, profile.failure
    scale = (w_weight, w_cost, w_latency, w_failure)
    return [
        _new_candidate(
            Candidate,
            (
                st.model,
                cost,
                latency,
                failure,
                st.weight_norm,
                w_weight * st.weight_norm
                - w_cost * cost
                - w_latency * latency
                - w_failure * failure,
                scale,
            ),
        )
        for st, cost, latency, failure in rows
    ]


def select(
    candidates: list[Candidate],
    settings: RoutingSettings,
    rng: random.Random,
    prefer_weight: int | None,
) -> list[Candidate]:
    """Best first (``candidates`` are sorted); the first slot is drawn among the near-best.

    After a transient failure the executor sets ``prefer_weight``: peers of the failed
    model's weight come first (best score first), then everything else.
    """
    if len(candidates) < 2:  # noqa: PLR2004 - one candidate needs no draw
        return list(candidates)
    ranked = list(candidates)  # already sorted best first; a copy, as scorings are shared
    if prefer_weight is not None:
        peers = [c for c in ranked if c.model.weight == prefer_weight]
        return peers + [c for c in ranked if c.model.weight != prefer_weight]
    pool = draw_pool(ranked, settings)
    weights = [settings.traffic_weights.get(c.model.id, 1.0) for c in pool]
    total = sum(weights)
    if len(pool) > 1 and total > 0:
        chosen = _draw(weights, total * rng.random())
        ranked.insert(0, ranked.pop(chosen))  # the pool is the head of ``ranked``
    return ranked


def draw_pool(ranked: list[Candidate], settings: RoutingSettings) -> list[Candidate]:
    """The near-best the first slot is drawn among: the top ``top_k`` within the margin."""
    best = ranked[0].score
    return [c for c in ranked[: settings.top_k] if c.score >= best - settings.selection_margin]


def _draw(weights: list[float], point: float) -> int:
    """The index whose cumulative-weight interval holds ``point`` (a weighted draw)."""
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    return len(weights) - 1


BY_SCORE = attrgetter("score")


def model_ids(candidates: Iterable[Candidate]) -> list[str]:
    """The ids of candidates, in order."""
    return [c.model.id for c in candidates]
