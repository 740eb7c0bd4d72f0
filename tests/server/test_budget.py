"""Key budgets through the real app: holds under concurrency, released on every failure."""

from __future__ import annotations

import asyncio

import anthropic
import openai
import pytest
from aiohttp import web

from tokenhub.auth.apikeys import ApiKey
from tokenhub.auth.keyring import KeyRing
from tokenhub.clock import FakeClock
from tokenhub.server.app_keys import KEYRING
from tokenhub.server.budget import released_on_error
from tokenhub.server.request_log import RequestSummary
from tokenhub.testing.stack import gateway_stack

from . import routing_stack

REQUIRED = {"auth": {"require_api_key": True}}
MESSAGES = [{"role": "user", "content": "hi"}]
BODY = {"model": "small-oa", "messages": MESSAGES, "max_tokens": 12}


@pytest.fixture
async def keyed(tokenhub_home):
    """The routing stack with API keys required."""
    async with gateway_stack(
        routing_stack.scenario(), routing_stack.registry, settings=REQUIRED
    ) as stack:
        yield stack


async def create_key(stack, name: str, **body) -> str:
    """Create a key over the admin socket; return the key."""
    async with stack.admin.post("/admin/v1/keys", json={"name": name, **body}) as response:
        assert response.status == 201, await response.text()
        return (await response.json())["key"]


async def spent(stack, name: str) -> float:
    """A key's recorded spend, as the admin API shows it."""
    async with stack.admin.get(f"/admin/v1/keys/{name}") as response:
        return (await response.json())["spent_usd"]


def held(stack, name: str) -> float:
    """What a key's requests in flight hold now."""
    ring = stack.app[KEYRING]
    return ring.spend.reserved_usd(next(k for k in ring.keys.values() if k.name == name))


async def estimate(stack, key: str) -> float:
    """The router's estimate for BODY, as ``/v1/chat`` reports it (that call costs too)."""
    envelope = {"request": BODY}
    headers = {"Authorization": f"Bearer {key}"}
    async with stack.client.post("/v1/chat", json=envelope, headers=headers) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["estimated_cost_usd"]


async def test_64_concurrent_requests_on_a_budget_for_20(keyed):
    """64 concurrent SDK requests on a budget for 20 estimates: about 20 served, the rest 402.

    Spend stays within the budget (the estimate errs high), and no refused request reaches
    a provider.
    """
    each = await estimate(keyed, await create_key(keyed, "probe"))
    budget = 20.5 * each
    key = await create_key(keyed, "team", budget_usd=budget, period="day")
    calls_before = len(keyed.sim.received)

    async def one(api: openai.AsyncOpenAI) -> float | tuple[int, str]:
        try:
            raw = await api.chat.completions.with_raw_response.create(**BODY)
        except openai.APIStatusError as exc:
            return exc.status_code, exc.body["type"]
        return float(raw.headers["X-Tokenhub-Cost-USD"])

    async with openai.AsyncOpenAI(base_url=f"{keyed.url}/v1", api_key=key, max_retries=0) as api:
        outcomes = await asyncio.gather(*(one(api) for _ in range(64)))
    billed = [o for o in outcomes if isinstance(o, float)]
    assert {o for o in outcomes if isinstance(o, tuple)} == {(402, "budget_exceeded")}
    # Twenty holds fit; a request that settles (below its estimate) before the last ones
    # arrive can make room for one or two more.
    assert 20 <= len(billed) <= 24
    assert len(keyed.sim.received) - calls_before == len(billed)
    recorded = await spent(keyed, "team")
    assert recorded == pytest.approx(sum(billed), abs=1e-7)  # headers round to 8 places
    assert recorded <= budget
    assert held(keyed, "team") == 0


async def test_failures_release_their_holds(keyed):
    """A refused request (upstream 400) and a cut stream leave no hold behind."""
    key = await create_key(keyed, "team", budget_usd=1.0, period="day")
    async with openai.AsyncOpenAI(base_url=f"{keyed.url}/v1", api_key=key, max_retries=0) as api:
        keyed.sim.enqueue("oa", "small-oa", status=400, message="bad request")
        with pytest.raises(openai.BadRequestError):
            await api.chat.completions.create(**BODY)
        keyed.sim.enqueue("oa", "small-oa", drop_after_events=2)
        stream = await api.chat.completions.create(**BODY, stream=True)
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
    assert held(keyed, "team") == 0


async def test_anthropic_clients_get_their_own_402(keyed):
    """A streamed Messages request beyond the budget is Anthropic's error shape, 402."""
    key = await create_key(keyed, "team", budget_usd=1e-6, period="day")
    async with anthropic.AsyncAnthropic(base_url=keyed.url, api_key=key, max_retries=0) as api:
        with pytest.raises(anthropic.APIStatusError) as info:
            await api.messages.create(
                model="claude-x", max_tokens=12, messages=MESSAGES, stream=True
            )
    assert info.value.status_code == 402
    assert info.value.body["error"]["type"] == "budget_exceeded"
    assert held(keyed, "team") == 0


def test_an_exit_that_skips_the_request_log_releases_the_hold():
    """Cancellation (or any exception) before the request is settled releases its hold."""
    app = web.Application()
    ring = app[KEYRING] = KeyRing(FakeClock())
    key = ApiKey("k1", "team", "th-k1", "hash", ["chat"], budget_usd=1.0, budget_period="day")
    summary = RequestSummary("r1", "/v1/chat/completions", key=key)
    summary.reservation = ring.spend.reserve(key, 0.5)
    with pytest.raises(asyncio.CancelledError), released_on_error(app, summary):
        raise asyncio.CancelledError
    assert (ring.spend.reserved_usd(key), key.spent_usd) == (0.0, 0.0)
