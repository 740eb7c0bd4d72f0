"""Per-model rate limits end to end: the official SDK, the real app, the simulator."""

from __future__ import annotations

import openai
import pytest

from tokenhub.clock import FakeClock
from tokenhub.schemas import ModelConfig
from tokenhub.sim import ModelSpec, ProviderSpec, RateLimitSpec, Scenario
from tokenhub.testing.stack import gateway_stack, provider_for


def scenario(a_rpm: int = 10_000) -> Scenario:
    """Provider ``up`` serves a (weight 9) and b (weight 8); ``other`` serves c (weight 7)."""
    return Scenario(
        seed=5,
        providers=(
            ProviderSpec(
                name="up",
                type="openai",
                models=(
                    ModelSpec(
                        id="a", output_tokens=4, rate_limit=RateLimitSpec(requests_per_minute=a_rpm)
                    ),
                    ModelSpec(id="b", output_tokens=4),
                ),
            ),
            ProviderSpec(name="other", type="openai", models=(ModelSpec(id="c", output_tokens=4),)),
        ),
    )


def registry(sim):
    """Model a outranks b by weight; c, on another provider, is lighter still."""
    providers = [provider_for(sim, "up"), provider_for(sim, "other")]

    def model(mid: str, provider: str, weight: int) -> ModelConfig:
        return ModelConfig(
            id=mid,
            provider=provider,
            weight=weight,
            max_context_tokens=32_000,
            input_usd_per_mtok=1.0,
            output_usd_per_mtok=2.0,
            expected_latency_ms=5,  # what the simulator answers in, before it is measured
        )

    return providers, [model("a", "up", 9), model("b", "up", 8), model("c", "other", 7)]


def calls_to(stack, model_id: str) -> int:
    """How many chat requests for ``model_id`` the simulator received."""
    return sum(
        1
        for r in stack.sim.received
        if isinstance(r.body, dict) and r.body.get("model") == model_id
    )


async def ask(stack, min_weight: int = 8) -> str:
    """One request for any model of at least ``min_weight``; the model that answered."""
    client = openai.AsyncOpenAI(base_url=f"{stack.url}/v1", api_key="unused", max_retries=0)
    async with client:
        completion = await client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"tokenhub": {"min_weight": min_weight}},
        )
    return completion.model


def best_first(stack) -> None:
    """No draw among near-best models: the best score always goes first."""
    stack.gateway.routing = stack.gateway.routing.model_copy(update={"selection_margin": 0.0})


@pytest.fixture
def clock() -> FakeClock:
    """The gateway's clock, moved by hand past Retry-After windows."""
    return FakeClock()


async def test_a_rate_limited_model_leaves_its_peers_serving(tokenhub_home, clock):
    """A's 429 sends every request to B meanwhile; A is called once in its window, then again."""
    async with gateway_stack(scenario(), registry, clock=clock) as stack:
        best_first(stack)
        stack.sim.enqueue("up", model="a", status=429, retry_after=30)
        served = [await ask(stack) for _ in range(10)]
        assert served == ["b"] * 10  # the same provider's other model: its limit is its own
        assert calls_to(stack, "a") == 1
        assert stack.gateway.health.provider("up").state in {"healthy", "degraded"}
        clock.advance(29)
        assert await ask(stack) == "b"
        assert calls_to(stack, "a") == 1
        clock.advance(1.5)
        assert await ask(stack) == "a"
        assert calls_to(stack, "a") == 2


async def test_insufficient_quota_takes_the_provider_out(tokenhub_home, clock):
    """An insufficient_quota 429 is the account's: A and B (same provider) are out, C serves."""
    async with gateway_stack(scenario(), registry, clock=clock) as stack:
        best_first(stack)
        stack.sim.enqueue("up", model="a", status=429, error_type="insufficient_quota")
        assert await ask(stack, min_weight=7) == "c"
        assert [await ask(stack, min_weight=7) for _ in range(5)] == ["c"] * 5
        assert calls_to(stack, "a") + calls_to(stack, "b") == 1
        async with stack.admin.get("/admin/v1/health") as r:
            providers = {p["id"]: p for p in (await r.json())["providers"]}
        assert providers["up"]["state"] == "quota_exhausted"
        assert providers["up"]["cooldown_left_s"] == 3600.0


async def test_remaining_zero_holds_the_model_before_any_429(tokenhub_home, clock):
    """When A's headers say no requests remain, tokenhub stops sending to A until the reset."""
    async with gateway_stack(scenario(a_rpm=3), registry, clock=clock) as stack:
        best_first(stack)
        served = [await ask(stack) for _ in range(8)]
        assert served == ["a", "a", "a"] + ["b"] * 5
        assert calls_to(stack, "a") == 3
        assert stack.gateway.health.model("a").state == "rate_limited"
