"""Consumer API keys: required or optional, scopes, rate limits, budgets, allowed models."""

from __future__ import annotations

from contextlib import asynccontextmanager

import anthropic
import openai
import pytest
from sqlalchemy import select

from tokenhub.config import load_settings
from tokenhub.server.app import create_app
from tokenhub.server.app_keys import ENGINE, KEYRING, WRITER
from tokenhub.store.tables import ApiKeyRow, RequestLogRow
from tokenhub.testing.inprocess import run_app
from tokenhub.testing.stack import gateway_stack

from . import routing_stack

REQUIRED = {"auth": {"require_api_key": True}}


@pytest.fixture
async def keyed(tokenhub_home):
    """The routing stack with API keys required."""
    async with gateway_stack(
        routing_stack.scenario(), routing_stack.registry, settings=REQUIRED
    ) as stack:
        yield stack


async def create_key(stack, name: str = "k", **body) -> dict:
    """Create a key over the admin socket; return the response (the only copy of the key)."""
    async with stack.admin.post("/admin/v1/keys", json={"name": name, **body}) as response:
        assert response.status == 201, await response.text()
        return await response.json()


@asynccontextmanager
async def client(stack, key: str):
    """An OpenAI client using ``key``."""
    async with openai.AsyncOpenAI(base_url=f"{stack.url}/v1", api_key=key, max_retries=0) as api:
        yield api


async def chat(api: openai.AsyncOpenAI, model: str = "auto"):
    """One small chat completion."""
    return await api.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )


async def test_key_required_and_accepted(keyed):
    """Without a valid key /v1 is 401; a created key works; the key shows once, as th-."""
    async with client(keyed, "not-a-key") as api:
        with pytest.raises(openai.AuthenticationError) as info:
            await chat(api)
    assert info.value.body["type"] == "unauthorized"
    created = await create_key(keyed)
    assert created["key"].startswith("th-")
    async with client(keyed, created["key"]) as api:
        assert (await chat(api)).choices[0].message.content
    async with keyed.admin.get("/admin/v1/keys") as response:
        listed = await response.json()
    assert "key" not in listed["data"][0]
    assert "key_hash" not in listed["data"][0]


async def test_anthropic_sdk_key_header(keyed):
    """The Anthropic SDK's way of sending the key is accepted too."""
    created = await create_key(keyed)
    async with anthropic.AsyncAnthropic(
        base_url=keyed.url, api_key=created["key"], max_retries=0
    ) as api:
        message = await api.messages.create(
            model="auto", max_tokens=20, messages=[{"role": "user", "content": "hi"}]
        )
    assert message.content


async def test_revoke_and_rotate(keyed):
    """A revoked key stops at once; rotation replaces the secret, keeping the key's id."""
    first = await create_key(keyed, name="rot")
    async with keyed.admin.post("/admin/v1/keys/rot/rotate") as response:
        rotated = await response.json()
    assert rotated["id"] == first["id"]
    async with client(keyed, first["key"]) as api:
        with pytest.raises(openai.AuthenticationError):
            await chat(api)
    async with client(keyed, rotated["key"]) as api:
        await chat(api)
    await keyed.admin.post(f"/admin/v1/keys/{first['id']}/revoke")
    async with client(keyed, rotated["key"]) as api:
        with pytest.raises(openai.AuthenticationError):
            await chat(api)


async def test_scope_is_enforced(keyed):
    """A key without the chat scope (as a later version may store) may not chat (403)."""
    created = await create_key(keyed)
    keyed.app[KEYRING].keys[created["id"]].scopes = ["plan"]
    async with client(keyed, created["key"]) as api:
        with pytest.raises(openai.PermissionDeniedError) as info:
            await chat(api)
    assert "'chat' scope" in info.value.body["message"]


async def test_rate_limit_gives_429_with_retry_after(keyed):
    """Past its requests per minute a key gets 429 with Retry-After."""
    created = await create_key(keyed, rpm=2)
    async with client(keyed, created["key"]) as api:
        await chat(api)
        await chat(api)
        with pytest.raises(openai.RateLimitError) as info:
            await chat(api)
    retry_after = int(info.value.response.headers["Retry-After"])
    assert 1 <= retry_after <= 60


async def test_budget_exceeded_after_real_spend(keyed):
    """Real usage is charged to the key; once what is left is below one estimate, 402."""
    created = await create_key(keyed, budget_usd=0.001, period="day")
    served = 0

    async def spend_it_all(api: openai.AsyncOpenAI) -> None:
        nonlocal served
        for _ in range(200):
            await api.chat.completions.create(
                model="claude-x", messages=[{"role": "user", "content": "hi"}], max_tokens=12
            )
            served += 1

    async with client(keyed, created["key"]) as api:
        with pytest.raises(openai.APIStatusError) as info:
            await spend_it_all(api)
    assert info.value.status_code == 402
    assert info.value.body["type"] == "budget_exceeded"
    assert "estimated cost" in info.value.body["message"]
    async with keyed.admin.get("/admin/v1/keys/k") as response:
        shown = await response.json()
    assert served >= 2
    assert 0 < shown["spent_usd"] <= 0.001


async def test_estimate_beyond_the_budget_is_refused_before_any_call(keyed):
    """A request whose estimate alone exceeds the budget is 402 and reaches no provider."""
    created = await create_key(keyed, budget_usd=0.001, period="day")
    before = len(keyed.sim.received)
    async with client(keyed, created["key"]) as api:
        with pytest.raises(openai.APIStatusError) as info:
            await chat(api, "claude-x")  # 1,024 output tokens reserved at $15/M: $0.015
    assert info.value.status_code == 402
    assert "lower max_tokens" in info.value.body["message"]
    assert len(keyed.sim.received) == before
    async with keyed.admin.get("/admin/v1/keys/k") as response:
        assert (await response.json())["spent_usd"] == 0


async def test_allowed_models(keyed):
    """A key limited to some models is refused others, and auto picks only from its list."""
    created = await create_key(keyed, models=["small-oa"])
    async with client(keyed, created["key"]) as api:
        with pytest.raises(openai.PermissionDeniedError):
            await chat(api, "big-oa")
        assert (await chat(api, "auto")).model == "small-oa"


async def test_optional_keys_still_count(tokenhub_home):
    """On loopback keys are optional, but a valid key is still charged and logged by name."""
    async with gateway_stack(routing_stack.scenario(), routing_stack.registry) as stack:
        created = await create_key(stack, name="team-a")
        async with client(stack, "anything") as api:
            await chat(api)
        async with client(stack, created["key"]) as api:
            await chat(api, "claude-x")
        await stack.app[WRITER].flush()
        async with stack.app[ENGINE].connect() as conn:
            rows = (
                await conn.execute(select(RequestLogRow.key_name, RequestLogRow.cost_usd))
            ).all()
        assert {name for name, _ in rows} == {None, "team-a"}
        [charged] = [cost for name, cost in rows if name == "team-a"]
        assert charged > 0
        async with stack.admin.get("/admin/v1/keys/team-a") as response:
            assert (await response.json())["spent_usd"] == pytest.approx(charged)


async def test_spend_survives_restart_and_db_holds_no_key(tokenhub_home):
    """Spend is flushed on shutdown; the database stores the key's hash, never the key."""
    loaded = load_settings()
    async with run_app(loaded, create_app(loaded, environ={})) as running:
        async with (
            running.unix_session() as admin,
            admin.post("/admin/v1/keys", json={"name": "p"}) as response,
        ):
            full = (await response.json())["key"]
        keyring = running.app[KEYRING]
        keyring.spend.charge(next(iter(keyring.keys.values())), 0.25)
        engine = running.app[ENGINE]
        async with engine.connect() as conn:
            rows = (await conn.execute(select(ApiKeyRow.key_hash))).scalars().all()
        assert full not in rows
    db = (tokenhub_home / "data" / "tokenhub.db").read_bytes()
    assert full.encode() not in db
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as admin,
        admin.get("/admin/v1/keys/p") as response,
    ):
        assert (await response.json())["spent_usd"] == 0.25


async def test_bad_key_requests(keyed):
    """Invalid key specs are 400 naming the field; duplicate names 409; unknown keys 404."""
    async with keyed.admin.post("/admin/v1/keys", json={"name": "x", "scopes": ["admin"]}) as r:
        assert (r.status, (await r.json())["error"]["param"]) == (400, "scopes")
    for unserved in ("plan", "embeddings"):  # no endpoint checks these yet: refused
        async with keyed.admin.post(
            "/admin/v1/keys", json={"name": "x", "scopes": ["chat", unserved]}
        ) as r:
            error = (await r.json())["error"]
            assert (r.status, error["param"]) == (400, "scopes")
            assert "no endpoint uses another scope yet" in error["message"]
    async with keyed.admin.post("/admin/v1/keys", json={"name": "x", "rpm": 0}) as r:
        assert (r.status, (await r.json())["error"]["param"]) == (400, "rpm")
    await create_key(keyed, name="dup")
    async with keyed.admin.post("/admin/v1/keys", json={"name": "dup"}) as r:
        assert r.status == 409
    async with keyed.admin.post("/admin/v1/keys/nope/revoke") as r:
        assert r.status == 404
