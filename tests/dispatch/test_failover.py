"""Failover end to end: attempts, panic routing, hard-block errors, adaptive timeouts."""

from __future__ import annotations

import time

import openai
import pytest

from tokenhub.errors import ErrorKind
from tokenhub.schemas import ModelConfig
from tokenhub.server.app_keys import EVENTS, WRITER
from tokenhub.sim import ModelSpec, ProviderSpec, Scenario
from tokenhub.testing.stack import gateway_stack, provider_for


def scenario() -> Scenario:
    """Two providers, one model each, behind one alias; ``solo`` has no peer."""
    return Scenario(
        seed=9,
        providers=(
            ProviderSpec(name="pa", type="openai", models=(ModelSpec(id="ma", output_tokens=4),)),
            ProviderSpec(name="pb", type="openai", models=(ModelSpec(id="mb", output_tokens=4),)),
            ProviderSpec(name="ps", type="openai", models=(ModelSpec(id="solo", output_tokens=4),)),
        ),
    )


def registry(sim):
    """Ma and mb are equal peers under the alias ``shared``; solo stands alone."""
    providers = [
        provider_for(sim, "pa", timeout_s=30),
        provider_for(sim, "pb", timeout_s=30),
        provider_for(sim, "ps", timeout_s=30),
    ]

    def model(mid: str, provider: str, aliases: list[str]) -> ModelConfig:
        return ModelConfig(
            id=mid,
            provider=provider,
            aliases=aliases,
            weight=5,
            max_context_tokens=32_000,
            input_usd_per_mtok=1.0,
            output_usd_per_mtok=2.0,
            expected_latency_ms=5,
        )

    return providers, [
        model("ma", "pa", ["shared"]),
        model("mb", "pb", ["shared"]),
        model("solo", "ps", []),
    ]


@pytest.fixture
async def stack(tokenhub_home):
    """The app over the scenario, best score always first."""
    async with gateway_stack(scenario(), registry) as running:
        running.gateway.routing = running.gateway.routing.model_copy(
            update={"selection_margin": 0.0}
        )
        yield running


@pytest.fixture
async def oai(stack):
    """The official SDK pointed at the app, with its own retries off."""
    async with openai.AsyncOpenAI(
        base_url=f"{stack.url}/v1", api_key="unused", max_retries=0
    ) as client:
        yield client


async def ask(oai, model: str):
    """One chat request; the raw response (headers and parsed body)."""
    return await oai.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )


async def test_adapter_retries_count_as_attempts(stack, oai):
    """A lone model's retries are upstream calls: X-Tokenhub-Attempts and the log list each."""
    for _ in range(2):
        stack.sim.enqueue("ps", model="solo", status=500)
    raw = await ask(oai, "solo")
    assert raw.parse().model == "solo"
    assert raw.headers["x-tokenhub-attempts"] == "3"
    await stack.app[WRITER].flush_all()
    async with stack.admin.get(
        "/admin/v1/requests", params={"request_id": raw.headers["x-request-id"]}
    ) as r:
        (row,) = (await r.json())["data"]
    outcomes = [(a["model"], a["outcome"], a["upstream_status"]) for a in row["attempts"]]
    assert outcomes == [("solo", "error", 500), ("solo", "error", 500), ("solo", "ok", None)]


async def test_attempt_budget_bounds_every_call(stack, oai):
    """Four calls at most (attempt_budget), retries included; then 502 listing all four."""
    for _ in range(6):
        stack.sim.enqueue("ps", model="solo", status=500)
    with pytest.raises(openai.APIStatusError) as caught:
        await ask(oai, "solo")
    assert caught.value.status_code == 502
    attempts = caught.value.body["attempts"]
    assert [a["upstream_status"] for a in attempts] == [500, 500, 500, 500]
    assert len([r for r in stack.sim.received if r.provider == "ps"]) == 4


async def test_every_peer_ejected_routes_in_panic(stack, oai):
    """With both peers ejected for transient failures the request is served, not refused."""
    health = stack.gateway.health
    events = stack.app[EVENTS].subscribe()
    for provider, model in (("pa", "ma"), ("pb", "mb")):
        health.failure(provider, model, ErrorKind.TRANSIENT, "timed out", timed_out=True)
    raw = await ask(oai, "shared")
    assert raw.parse().model in {"ma", "mb"}
    assert raw.headers["x-tokenhub-attempts"] == "1"
    names = []
    while not events._queue.empty():
        names.append((await events.next()).type)
    assert "routing.panic" in names
    async with stack.admin.get("/metrics") as r:
        assert 'tokenhub_routing_panic_total{mode="normal"} 1.0' in await r.text()


async def test_only_rate_limits_left_answers_429_with_the_smallest_wait(stack, oai):
    """When every candidate waits out a 429, the client gets 429 with the smallest Retry-After."""
    health = stack.gateway.health
    health.failure("pa", "ma", ErrorKind.RATE_LIMITED, "429", retry_after=40)
    health.failure("pb", "mb", ErrorKind.RATE_LIMITED, "429", retry_after=7.2)
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(oai, "shared")
    assert caught.value.response.headers["retry-after"] == "8"
    assert caught.value.body["type"] == "rate_limited"
    assert not [r for r in stack.sim.received if r.provider in {"pa", "pb"}]


async def test_open_circuits_answer_503_with_retry_after(stack, oai):
    """Providers that are down answer a fast 503 naming when a probe may go."""
    health = stack.gateway.health
    for provider, model in (("pa", "ma"), ("pb", "mb")):
        for _ in range(5):
            health.failure(provider, model, ErrorKind.TRANSIENT, "HTTP 500")
    assert health.provider("pa").state == "down"
    started = time.perf_counter()
    with pytest.raises(openai.APIStatusError) as caught:
        await ask(oai, "shared")
    assert time.perf_counter() - started < 2.0
    assert caught.value.status_code == 503
    assert caught.value.body["type"] == "no_eligible_model"
    assert caught.value.response.headers["retry-after"] == "5"


async def test_a_hang_costs_one_adaptive_timeout_not_the_provider_timeout(stack, oai):
    """Once a model has answered, a hang is cut at the adaptive timeout and the peer serves."""
    for _ in range(5):  # teach tokenhub how fast ma answers
        stack.sim.enqueue("pa", model="ma")
        assert (await ask(oai, "ma")).parse().model == "ma"
    stack.sim.enqueue("pa", model="ma", hang=True)
    health = stack.gateway.health
    for _ in range(3):  # mb looks worse, so ma goes first
        health.failure("pb", "mb", ErrorKind.TRANSIENT, "HTTP 500")
    started = time.perf_counter()
    raw = await ask(oai, "shared")
    elapsed = time.perf_counter() - started
    assert raw.parse().model == "mb"
    assert raw.headers["x-tokenhub-attempts"] == "2"
    # The floor (1 s) plus mb's answer, far below the provider's 30 s timeout.
    assert 1.0 <= elapsed < 10.0
    assert health.model("ma").state == "down"
