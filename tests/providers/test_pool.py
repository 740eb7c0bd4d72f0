"""The provider pool: one pooled client per provider, kept in step with configuration."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from tests.providers.support import OPENAI_KEY, ask, model, options

from tokenhub.clock import FakeClock
from tokenhub.config import UpstreamSettings
from tokenhub.errors import ConfigError, ErrorKind, NotFoundError, ProviderError
from tokenhub.providers.anthropic import AnthropicAdapter
from tokenhub.providers.kinds import default_kinds
from tokenhub.providers.openai import OpenAIAdapter
from tokenhub.providers.pool import DEFAULTS, ProviderPool
from tokenhub.providers.transport import UpstreamClient
from tokenhub.providers.vllm import VLLMAdapter
from tokenhub.schemas import ProviderConfig
from tokenhub.sim import Simulator
from tokenhub.testing.polling import async_wait_until

GPT = model("gpt-4o")


@pytest.fixture
async def pool(fake_clock: FakeClock) -> AsyncIterator[ProviderPool]:
    """A pool over the built-in kinds, closed after the test."""
    async with ProviderPool(
        default_kinds(plugins=False), fake_clock, environ={}, drain_s=5.0
    ) as running:
        yield running


def configs(sim: Simulator) -> list[ProviderConfig]:
    """One provider of each built-in kind."""
    return [
        ProviderConfig(id="oa", type="openai", base_url=sim.base_url("openai")),
        ProviderConfig(id="an", type="anthropic", base_url=sim.base_url("anthropic")),
        ProviderConfig(
            id="vl", type="vllm", base_urls=[sim.base_url("vllm-a"), sim.base_url("vllm-b")]
        ),
    ]


async def closed(client: UpstreamClient) -> None:
    """Wait (with a deadline) until ``client`` is closed."""

    async def probe() -> bool:
        return client.closed

    await async_wait_until(probe, timeout=5.0, what="the old client to close")


async def test_sync_builds_an_adapter_per_provider(pool, sim):
    """Each provider gets the adapter of its kind and its own client."""
    await pool.sync(configs(sim))
    assert pool.ids == ["an", "oa", "vl"]
    assert isinstance(pool.get("oa"), OpenAIAdapter)
    assert isinstance(pool.get("an"), AnthropicAdapter)
    assert isinstance(pool.get("vl"), VLLMAdapter)
    assert "oa" in pool
    clients = {pool.client(i) for i in pool.ids}
    assert len(clients) == 3


async def test_clients_are_pooled_with_limits(pool, sim, fake_clock):
    """Each client keeps connections alive under the connection limit: calls reuse one.

    Streams may hold the setting's 1,000 connections; the reserve on top is for short calls.
    """
    await pool.sync(configs(sim))
    client = pool.client("oa")
    assert (client.stream_limit, client.limit, client.keepalive_s) == (1000, 1100, 30.0)
    assert DEFAULTS.connection_limit == 1000
    adapter = pool.get("oa")
    for _ in range(3):
        await adapter.complete(ask(), GPT, options(fake_clock, api_key=OPENAI_KEY))
    assert (client.in_use, client.idle) == (0, 1)


async def test_unknown_provider_is_not_found(pool):
    """``get`` of a provider the pool does not hold raises NotFoundError."""
    with pytest.raises(NotFoundError, match="'ghost'"):
        pool.get("ghost")


async def test_unknown_type_is_rejected_whole(pool, sim):
    """A config naming an unregistered type fails the sync and changes nothing."""
    bad = ProviderConfig(id="x", type="gemini", base_url="http://127.0.0.1:1")
    with pytest.raises(ConfigError, match="unknown provider type 'gemini'"):
        await pool.sync([*configs(sim), bad])
    assert pool.ids == []


async def test_unchanged_config_keeps_the_adapter(pool, sim):
    """Syncing the same configs again keeps adapters and clients as they are."""
    await pool.sync(configs(sim))
    adapter, client = pool.get("oa"), pool.client("oa")
    await pool.sync(configs(sim))
    assert pool.get("oa") is adapter
    assert pool.client("oa") is client
    assert not client.closed


async def test_changed_config_rebuilds_and_closes_the_old_client(pool, sim):
    """A changed provider gets a new adapter; its old client closes, others are untouched."""
    await pool.sync(configs(sim))
    old_adapter, old_client = pool.get("oa"), pool.client("oa")
    untouched = pool.client("an")
    changed = [c.model_copy(update={"timeout_s": 5.0}) if c.id == "oa" else c for c in configs(sim)]
    await pool.sync(changed)
    assert pool.get("oa") is not old_adapter
    assert pool.get("oa").config.timeout_s == 5.0
    await closed(old_client)
    assert not untouched.closed


async def test_removed_provider_goes_away(pool, sim):
    """A provider missing from the configs is dropped and its client closed."""
    await pool.sync(configs(sim))
    client = pool.client("vl")
    await pool.sync([c for c in configs(sim) if c.id != "vl"])
    assert "vl" not in pool
    await closed(client)


async def test_replaced_provider_drains_in_flight_streams(pool, sim, fake_clock):
    """An open stream on a replaced provider finishes before its old client closes."""
    await pool.sync(configs(sim))
    handle = await pool.get("oa").open_stream(ask(), GPT, options(fake_clock, api_key=OPENAI_KEY))
    old_client = pool.client("oa")
    await pool.sync([c for c in configs(sim) if c.id != "oa"])
    assert not old_client.closed
    events = [event async for event in handle.events()]
    assert events[-1].finish_reason == "stop"
    await closed(old_client)


async def test_sequential_calls_reuse_one_connection(pool, sim, fake_clock):
    """Two calls in a row through the pool share one keep-alive connection."""
    await pool.sync(configs(sim))
    adapter = pool.get("oa")
    for _ in range(2):
        await adapter.complete(ask(), GPT, options(fake_clock, api_key=OPENAI_KEY))
    handle = await adapter.open_stream(ask(), GPT, options(fake_clock, api_key=OPENAI_KEY))
    _ = [event async for event in handle.events()]
    await adapter.complete(ask(), GPT, options(fake_clock, api_key=OPENAI_KEY))
    peers = {r.peer for r in sim.received}
    assert len(peers) == 1
    assert len(sim.received) == 4


async def test_close_closes_everything(fake_clock, sim):
    """Leaving the pool closes every client, draining ones included."""
    async with ProviderPool(default_kinds(plugins=False), fake_clock) as pool:
        await pool.sync(configs(sim))
        clients = [pool.client(i) for i in pool.ids]
        handle = await pool.get("oa").open_stream(
            ask(), GPT, options(fake_clock, api_key=OPENAI_KEY)
        )
        await pool.sync([])
    assert all(s.closed for s in clients)
    await handle.aclose()
    assert pool.ids == []


async def test_a_full_pool_is_overloaded_not_an_upstream_failure(sim, fake_clock):
    """Streams fill the provider's streaming share: the next stream is ``overloaded``.

    The exhaustion is counted for the provider, the endpoint's health is untouched (no
    failure recorded), and a short call meanwhile is served from the reserve.
    """
    exhausted: list[str] = []
    settings = UpstreamSettings(connection_limit=1, short_call_reserve=1)
    async with ProviderPool(
        default_kinds(plugins=False),
        fake_clock,
        settings=settings,
        environ={},
        on_exhausted=exhausted.append,
    ) as pool:
        await pool.sync([ProviderConfig(id="oa", type="openai", base_url=sim.base_url("openai"))])
        adapter, client = pool.get("oa"), pool.client("oa")
        sim.enqueue("openai", hang=True)
        held = asyncio.create_task(
            adapter.open_stream(ask(), GPT, options(fake_clock, api_key=OPENAI_KEY))
        )

        async def streaming() -> bool:
            return client.streams == 1

        await async_wait_until(streaming, timeout=5.0, what="the first stream to hold its slot")
        with pytest.raises(ProviderError) as caught:
            await adapter.open_stream(
                ask(), GPT, options(fake_clock, 0.2, api_key=OPENAI_KEY, max_retries=2)
            )
        assert caught.value.kind is ErrorKind.OVERLOADED
        assert "all 1 streaming connection slots stayed in use" in caught.value.message
        assert caught.value.retries == 0  # overloaded is not retried against the same pool
        assert exhausted == ["oa"]
        short = await adapter.complete(ask(), GPT, options(fake_clock, api_key=OPENAI_KEY))
        assert short.response.message.text()
        [endpoint] = adapter.endpoints()
        assert (endpoint.healthy, endpoint.consecutive_failures) == (True, 0)
        held.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await held


async def test_a_provider_connection_limit_overrides_the_setting(pool, sim):
    """A provider's ``connection_limit`` replaces the global one; the reserve stays on top."""
    config = ProviderConfig(
        id="oa", type="openai", base_url=sim.base_url("openai"), connection_limit=50
    )
    await pool.sync([config])
    client = pool.client("oa")
    assert (client.stream_limit, client.limit) == (50, 50 + DEFAULTS.short_call_reserve)


async def test_a_bad_proxy_setting_changes_nothing(sim, fake_clock):
    """A provider whose proxy cannot be used fails the whole sync; the others stay as they were."""
    env = {"HTTPS_PROXY": "ftp://proxy.corp:21"}
    good = ProviderConfig(id="oa", type="openai", base_url=sim.base_url("openai"), proxy="none")
    bad = ProviderConfig(id="an", type="anthropic", base_url="https://api.anthropic.com")
    async with ProviderPool(default_kinds(plugins=False), fake_clock, environ=env) as pool:
        await pool.sync([good])
        before = pool.client("oa")
        with pytest.raises(
            ConfigError, match="provider 'an': the environment variable HTTPS_PROXY"
        ):
            await pool.sync([good, bad])
        assert pool.ids == ["oa"]
        assert pool.client("oa") is before
