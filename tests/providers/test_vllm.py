"""The ``vllm`` adapter: flat errors, optional auth, load spreading over replicas, probes."""

from __future__ import annotations

import asyncio
import socket

import pytest
from tests.providers.support import LLAMA, WEATHER, ask, model, options

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.endpoints import HealthPolicy
from tokenhub.providers.http import RetryPolicy
from tokenhub.providers.kinds import ProviderKinds
from tokenhub.providers.vllm import VLLMAdapter, register
from tokenhub.schemas import ProviderConfig
from tokenhub.types import ToolCallStart

LLAMA_MODEL = model(LLAMA)
NO_RETRY = RetryPolicy(max_retries=0)


@pytest.fixture
def pair(make_adapter) -> VLLMAdapter:
    """A vLLM provider over two replicas, vllm-a and vllm-b, without retries."""
    built = make_adapter("vllm", "vllm-a", "vllm-b", policy=NO_RETRY)
    assert isinstance(built, VLLMAdapter)
    return built


def served_by(sim) -> list[str]:
    """The replica that answered each request, in order."""
    return [r.provider for r in sim.received]


async def _outcome(adapter, clock) -> ErrorKind | None:
    """Call once; the error class, or None on success."""
    try:
        await adapter.complete(ask(), LLAMA_MODEL, options(clock))
    except ProviderError as exc:
        return exc.kind
    return None


def closed_port_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


async def test_no_credential_sends_no_authorization(make_adapter, fake_clock, sim):
    """Without a key there is no Authorization header, and the call works."""
    adapter = make_adapter("vllm", "vllm-a")
    result = await adapter.complete(ask(), LLAMA_MODEL, options(fake_clock))
    assert result.response.message.text()
    assert result.ratelimit is None
    assert "authorization" not in sim.received[0].headers


async def test_keyed_server_checks_bearer(make_adapter, fake_clock):
    """A keyed vLLM takes Bearer; its bare {"error": "Unauthorized"} 401 is ``auth``."""
    adapter = make_adapter("vllm", "vllm-keyed")
    ok = await adapter.complete(ask(), LLAMA_MODEL, options(fake_clock, api_key="vllm-secret"))
    assert ok.response.message.text()
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), LLAMA_MODEL, options(fake_clock, api_key="nope"))
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.message == "HTTP 401: Unauthorized"


@pytest.mark.parametrize(
    ("enqueue", "kind"),
    [
        ({"error_type": "context_length_exceeded"}, ErrorKind.CONTEXT_OVERFLOW),
        ({"status": 500}, ErrorKind.TRANSIENT),
        ({"status": 503}, ErrorKind.RATE_LIMITED),  # its one endpoint is busy: wait
        ({"status": 429}, ErrorKind.RATE_LIMITED),
        ({"status": 400, "message": "temperature must be non-negative"}, ErrorKind.FATAL),
    ],
)
async def test_flat_error_bodies_classified(make_adapter, fake_clock, sim, enqueue, kind):
    """The flat {"object": "error", ...} bodies of vLLM map to the right class."""
    adapter = make_adapter("vllm", "vllm-a", policy=NO_RETRY)
    sim.enqueue("vllm-a", **enqueue)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), LLAMA_MODEL, options(fake_clock))
    assert caught.value.kind is kind


async def test_real_context_overflow(make_adapter, fake_clock):
    """The "maximum context length" 400 of vLLM itself is ``context_overflow``."""
    adapter = make_adapter("vllm", "vllm-a")
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask("y" * 20_000), LLAMA_MODEL, options(fake_clock))
    assert caught.value.kind is ErrorKind.CONTEXT_OVERFLOW
    assert "maximum context length is 4000 tokens" in caught.value.message


async def test_in_stream_bad_request_is_transient(make_adapter, fake_clock, sim):
    """An in-stream BadRequestError/400 (vLLM's label for any failure) is transient."""
    adapter = make_adapter("vllm", "vllm-a")
    sim.enqueue("vllm-a", fail_after_events=1)
    handle = await adapter.open_stream(ask(), LLAMA_MODEL, options(fake_clock))
    with pytest.raises(ProviderError) as caught:
        _ = [event async for event in handle.events()]
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert "EngineCore" in caught.value.message


async def test_streamed_tool_call(make_adapter, fake_clock):
    """Tool calls from vLLM stream through the OpenAI decoder."""
    adapter = make_adapter("vllm", "vllm-a")
    request = ask("weather?", tools=[WEATHER])
    handle = await adapter.open_stream(request, LLAMA_MODEL, options(fake_clock))
    events = [event async for event in handle.events()]
    [start] = [e for e in events if isinstance(e, ToolCallStart)]
    assert start.name == "get_weather"
    assert start.id.startswith("chatcmpl-tool-")


async def test_sequential_calls_alternate_replicas(pair, fake_clock, sim):
    """With nothing in flight, ties go round robin: calls alternate between replicas."""
    for _ in range(6):
        await pair.complete(ask(), LLAMA_MODEL, options(fake_clock))
    assert served_by(sim) == ["vllm-a", "vllm-b"] * 3


async def test_concurrent_calls_spread_by_in_flight(pair, fake_clock, sim):
    """Concurrent slow calls go to the replica with fewer in flight: an even split."""
    for name in ("vllm-a", "vllm-b"):
        for _ in range(3):
            sim.enqueue(name, delay_ms=100)
    calls = [pair.complete(ask(), LLAMA_MODEL, options(fake_clock)) for _ in range(6)]
    results = await asyncio.gather(*calls)
    assert sorted(served_by(sim)) == ["vllm-a"] * 3 + ["vllm-b"] * 3
    assert {r.endpoint for r in results} == {e.url for e in pair.endpoints()}
    assert [e.in_flight for e in pair.endpoints()] == [0, 0]


async def test_failing_replica_cools_down_then_half_opens(pair, fake_clock, sim):
    """Two failures cool a replica; its peer takes over; a half-open trial restores it."""
    sim.enqueue("vllm-a", status=500)
    sim.enqueue("vllm-a", status=500)
    outcomes = [await _outcome(pair, fake_clock) for _ in range(4)]  # a, b, a, b
    assert outcomes == [ErrorKind.TRANSIENT, None, ErrorKind.TRANSIENT, None]
    a_state, b_state = pair.endpoints()
    assert (a_state.healthy, a_state.consecutive_failures) == (False, 2)
    assert a_state.cooldown_until == fake_clock.monotonic() + 1.0
    assert "HTTP 500" in (a_state.last_error or "")
    assert b_state.healthy
    before = len(sim.received)
    for _ in range(3):
        await pair.complete(ask(), LLAMA_MODEL, options(fake_clock))
    assert served_by(sim)[before:] == ["vllm-b"] * 3
    fake_clock.advance(1.0)
    await pair.complete(ask(), LLAMA_MODEL, options(fake_clock))
    assert served_by(sim)[-1] == "vllm-a"
    assert pair.endpoints()[0].healthy
    assert pair.endpoints()[0].consecutive_failures == 0


async def test_retry_moves_to_the_other_replica(make_adapter, fake_clock, sim, sleeps):
    """A transient failure is retried, and the retry lands on the other replica."""
    adapter = make_adapter("vllm", "vllm-a", "vllm-b")
    sim.enqueue("vllm-a", status=500)
    result = await adapter.complete(ask(), LLAMA_MODEL, options(fake_clock))
    assert result.retries == 1
    assert served_by(sim) == ["vllm-a", "vllm-b"]
    assert result.endpoint == sim.base_url("vllm-b")
    assert len(sleeps.delays) == 1


async def test_probe_checks_every_replica(make_adapter, fake_clock, sim):
    """``probe`` GETs each replica's /v1/models and reports each one's health."""
    adapter = make_adapter("vllm", "vllm-a", "vllm-b")
    states = await adapter.probe(options(fake_clock))
    assert [s.healthy for s in states] == [True, True]
    assert sorted(r.path for r in sim.received) == ["/vllm-a/v1/models", "/vllm-b/v1/models"]


async def test_probe_marks_an_unreachable_replica(client, sim, fake_clock, sleeps):
    """A replica nobody listens on fails its probe and leaves rotation at once."""
    dead = closed_port_url()
    config = ProviderConfig(id="v", type="vllm", base_urls=[dead, sim.base_url("vllm-a")])
    adapter = VLLMAdapter(
        config, client, fake_clock, health=HealthPolicy(failure_threshold=1), sleep=sleeps
    )
    states = await adapter.probe(options(fake_clock, seconds=5))
    assert [s.healthy for s in states] == [False, True]
    assert "connection failed" in (states[0].last_error or "")
    for _ in range(3):
        result = await adapter.complete(ask(), LLAMA_MODEL, options(fake_clock))
        assert result.endpoint == sim.base_url("vllm-a")


async def test_probe_success_restores_health(pair, fake_clock, sim):
    """A successful probe makes a cooled-down replica healthy at once."""
    for _ in range(2):
        sim.enqueue("vllm-a", status=500)
    for _ in range(3):
        await _outcome(pair, fake_clock)
    assert not pair.endpoints()[0].healthy
    states = await pair.probe(options(fake_clock))
    assert [s.healthy for s in states] == [True, True]


async def test_list_models(make_adapter, fake_clock, sim):
    """``list_models`` reads a replica's /v1/models."""
    adapter = make_adapter("vllm", "vllm-a")
    assert await adapter.list_models(options(fake_clock)) == [LLAMA]


def test_register_adds_the_kind():
    """``register`` adds the ``vllm`` kind to a registry."""
    kinds = ProviderKinds()
    register(kinds)
    assert kinds.types == ["vllm"]


@pytest.mark.parametrize("status", [429, 503])
async def test_busy_replica_is_cooled_and_its_peer_serves(make_adapter, fake_clock, sim, status):
    """A replica's 429/503 cools it alone (transient); the other serves until Retry-After."""
    adapter = make_adapter("vllm", "vllm-a", "vllm-b", policy=NO_RETRY)
    sim.enqueue("vllm-a", status=status, retry_after=20)
    outcomes = []
    for _ in range(4):
        try:
            result = await adapter.complete(ask(), LLAMA_MODEL, options(fake_clock))
            outcomes.append(result.endpoint)
        except ProviderError as exc:
            outcomes.append(exc.kind)
    a, b = sim.base_url("vllm-a"), sim.base_url("vllm-b")
    assert outcomes[0] is ErrorKind.TRANSIENT or outcomes[1] is ErrorKind.TRANSIENT
    served = [o for o in outcomes if not isinstance(o, ErrorKind)]
    assert served == [b] * len(served)
    assert not adapter.endpoints()[0].healthy
    fake_clock.advance(20)
    endpoints = {
        (await adapter.complete(ask(), LLAMA_MODEL, options(fake_clock))).endpoint for _ in range(4)
    }
    assert endpoints == {a, b}
