"""Shared set-up of the reliability scenarios: two equal models behind one alias, and sizes.

Model ``model-a`` on provider ``pa`` and ``model-b`` on ``pb`` are the same model to the
router (weight, prices, context, expected latency), both answering to the alias ``equal``;
each scenario gives them its own faults through the simulator.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import pytest

from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.sim import ModelSpec, ProviderSpec, Scenario, Simulator
from tokenhub.testing.stack import provider_for

ALIAS = "equal"
SEED = 17
OUTPUT_TOKENS = 16


@dataclass(frozen=True)
class Size:
    """How long and how wide one run of a scenario is."""

    duration_s: float
    concurrency: int
    timeout_s: float = 2.0
    full: bool = False


def sizes(short: Size, full: Size) -> list[Any]:
    """``short`` (in ``make test``) and ``full`` (``make test-extended`` only) parameters."""
    return [
        pytest.param(short, id="short"),
        pytest.param(
            replace(full, full=True),
            id="full",
            marks=[pytest.mark.extended, pytest.mark.timeout(900)],
        ),
    ]


def sampling_slack(size: Size, spread: float, requests: int) -> float:
    """Three standard errors of a mean over ``requests`` draws of ``spread`` (short runs only).

    A short run sees a few hundred requests, too few for a bound close to the expected
    value (97 % success against 97.4 % expected); the full run is held to the bound itself.
    """
    return 0.0 if size.full else 3 * spread / math.sqrt(max(1, requests))


def hang_share(hang: float, errors: float) -> float:
    """The simulator's ``hang`` that makes ``hang`` of all requests hang.

    The simulator draws a hang only for requests without an injected error.
    """
    return hang / (1 - errors)


UNLIMITED = {"requests_per_minute": 10**9, "tokens_per_minute": 10**9}
"""Rate limits no run reaches: a 30 s run at c=20 sends over 40,000 requests to one model,
past the simulator's default 10,000 a minute, and a limit the scenario did not ask for
would turn into 429s the suite would blame on tokenhub."""


def model_spec(model_id: str, **kw: Any) -> ModelSpec:
    """A simulated model with the suite's reply length and a small, steady latency."""
    return ModelSpec.model_validate(
        {
            "id": model_id,
            "output_tokens": OUTPUT_TOKENS,
            "ttft_ms": 5.0,
            "rate_limit": UNLIMITED,
            **kw,
        }
    )


def scenario(a: dict[str, Any], b: dict[str, Any] | None = None) -> Scenario:
    """Providers ``pa`` (``model-a`` with ``a``) and ``pb`` (``model-b`` with ``b``)."""
    providers = [ProviderSpec(name="pa", type="openai", models=(model_spec("model-a", **a),))]
    if b is not None:
        providers.append(
            ProviderSpec(name="pb", type="openai", models=(model_spec("model-b", **b),))
        )
    return Scenario(seed=SEED, providers=tuple(providers))


def model(model_id: str, provider: str, **kw: Any) -> ModelConfig:
    """The gateway's view of one simulated model: every scenario's models are equal."""
    data = {
        "id": model_id,
        "provider": provider,
        "weight": 5,
        "max_context_tokens": 32_000,
        "input_usd_per_mtok": 1.0,
        "output_usd_per_mtok": 2.0,
        "expected_latency_ms": 50,
        "aliases": [ALIAS],
        **kw,
    }
    return ModelConfig.model_validate(data)


def registry(
    timeout_s: float, overrides: Mapping[str, Mapping[str, Any]] | None = None
) -> Callable[[Simulator], tuple[list[ProviderConfig], list[ModelConfig]]]:
    """Every served provider with ``timeout_s``, and its model under the alias.

    ``overrides`` maps a model id to the fields that set it apart (a lower price, say).
    """

    def build(sim: Simulator) -> tuple[list[ProviderConfig], list[ModelConfig]]:
        names = [p.name for p in sim.scenario.providers]
        providers = [provider_for(sim, name, timeout_s=timeout_s) for name in names]
        ids = [(p.models[0].id, p.name) for p in sim.scenario.providers]
        extra = overrides or {}
        models = [model(mid, name, **extra.get(mid, {})) for mid, name in ids]
        return providers, models

    return build
