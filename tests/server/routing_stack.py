"""A shared simulated registry for the consumer-API tests (imported by their conftest)."""

from __future__ import annotations

from tokenhub.schemas import ModelConfig
from tokenhub.sim import ModelSpec, ProviderSpec, Scenario
from tokenhub.testing.stack import provider_for


def scenario() -> Scenario:
    """Two OpenAI-shaped providers, one Anthropic, one small vLLM."""
    return Scenario(
        seed=3,
        providers=(
            ProviderSpec(
                name="oa",
                type="openai",
                models=(
                    ModelSpec(id="small-oa", context_window=8_000, output_tokens=12),
                    ModelSpec(id="big-oa", context_window=128_000, output_tokens=12),
                ),
            ),
            ProviderSpec(
                name="ob",
                type="openai",
                models=(ModelSpec(id="small-ob", context_window=8_000, output_tokens=12),),
            ),
            ProviderSpec(
                name="an",
                type="anthropic",
                models=(ModelSpec(id="claude-x", context_window=200_000, output_tokens=12),),
            ),
        ),
    )


def model(mid: str, provider: str, upstream: str, **kw: object) -> ModelConfig:
    """A model with test defaults."""
    data = {
        "id": mid,
        "provider": provider,
        "upstream_model": upstream,
        "weight": 5,
        "max_context_tokens": 8000,
        "input_usd_per_mtok": 1.0,
        "output_usd_per_mtok": 2.0,
        "expected_latency_ms": 500,
        "capabilities": ["tools", "json"],
        **kw,
    }
    return ModelConfig.model_validate(data)


def registry(sim):
    """small-oa and small-ob are same-weight peers; big-oa is larger; claude-x heaviest."""
    providers = [
        provider_for(sim, "oa", timeout_s=1),
        provider_for(sim, "ob", timeout_s=2),
        provider_for(sim, "an", timeout_s=2),
    ]
    models = [
        model("small-oa", "oa", "small-oa", input_usd_per_mtok=0.1, output_usd_per_mtok=0.2),
        model("small-ob", "ob", "small-ob", input_usd_per_mtok=0.1, output_usd_per_mtok=0.2),
        model(
            "big-oa",
            "oa",
            "big-oa",
            weight=7,
            max_context_tokens=128_000,
            input_usd_per_mtok=2,
            output_usd_per_mtok=8,
        ),
        model(
            "claude-x",
            "an",
            "claude-x",
            weight=9,
            max_context_tokens=200_000,
            input_usd_per_mtok=3,
            output_usd_per_mtok=15,
            aliases=["smart"],
        ),
    ]
    return providers, models
