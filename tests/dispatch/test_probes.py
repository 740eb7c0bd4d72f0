"""Active probes of vLLM endpoints mark a dead endpoint unhealthy, so traffic avoids it."""

from __future__ import annotations

from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.sim import ModelSpec, ProviderSpec, Scenario
from tokenhub.testing.stack import gateway_stack

SCENARIO = Scenario(
    seed=1,
    providers=(ProviderSpec(name="va", type="vllm", models=(ModelSpec(id="llama"),)),),
)


def registry(sim):
    """One vLLM provider with a live endpoint and a dead one (nothing listens on port 9)."""
    provider = ProviderConfig(
        id="vllm",
        type="vllm",
        base_urls=[sim.base_url("va"), "http://127.0.0.1:9/v1"],
        timeout_s=2,
    )
    return [provider], [ModelConfig(id="llama", provider="vllm")]


async def test_probe_marks_dead_endpoint_and_requests_avoid_it(tokenhub_home):
    """After failed probes (two in a row), the dead endpoint is unhealthy; requests avoid it."""
    async with gateway_stack(SCENARIO, registry) as stack:
        assert await stack.gateway.probe_endpoints() == 2
        assert await stack.gateway.probe_endpoints() == 2
        states = {s.url: s.healthy for s in stack.gateway.adapter("vllm").endpoints()}
        assert states == {stack.sim.base_url("va"): True, "http://127.0.0.1:9/v1": False}
        for _ in range(4):
            response = await stack.client.post(
                "/v1/chat/completions",
                json={"model": "llama", "messages": [{"role": "user", "content": "hi"}]},
            )
            assert response.status == 200
            assert response.headers["X-Tokenhub-Attempts"] == "1"
        posts = [r for r in stack.sim.received if r.method == "POST"]
        assert len(posts) == 4
