"""The audit log: every admin action recorded with who, what, target and outcome."""

from __future__ import annotations

import os

import pytest

from tokenhub.config import load_settings
from tokenhub.server.app import create_app
from tokenhub.testing.inprocess import run_app


@pytest.fixture
async def admin(tokenhub_home):
    """An admin session over the Unix socket of a running app."""
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as http,
    ):
        yield http


async def audit(http, query: str = "") -> dict:
    """GET the audit endpoint."""
    async with http.get(f"/admin/v1/audit{query}") as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_actions_are_audited_with_peer_uid(admin):
    """Registry and key changes appear at once, attributed to the socket peer's uid."""
    await admin.post(
        "/admin/v1/providers",
        json={"id": "p", "type": "openai", "base_url": "http://127.0.0.1:9/v1"},
    )
    await admin.post("/admin/v1/keys", json={"name": "team"})
    await admin.patch("/admin/v1/routing", json={"attempt_budget": 2})
    rows = (await audit(admin))["data"]
    assert [r["action"] for r in rows] == ["routing.update", "key.create", "provider.create"]
    assert {r["actor"] for r in rows} == {f"unix:uid={os.getuid()}"}
    assert rows[1]["target"] == "team"
    assert all(r["outcome"] == "ok" for r in rows)


async def test_filters_and_paging(admin):
    """Filters narrow the rows; before/after cursors page back and follow forward."""
    for i in range(5):
        await admin.post("/admin/v1/keys", json={"name": f"k{i}"})
    first = await audit(admin, "?action=key.create&limit=2")
    assert [r["target"] for r in first["data"]] == ["k4", "k3"]
    second = await audit(admin, f"?action=key.create&limit=2&before={first['next_cursor']}")
    assert [r["target"] for r in second["data"]] == ["k2", "k1"]
    newest = first["data"][0]["id"]
    await admin.post("/admin/v1/keys", json={"name": "k5"})
    followed = await audit(admin, f"?after={newest}")
    assert [r["target"] for r in followed["data"]] == ["k5"]
    assert (await audit(admin, "?actor=nobody"))["data"] == []


async def test_bad_query_is_400(admin):
    """An unknown or malformed parameter is a 400 naming it."""
    async with admin.get("/admin/v1/audit?limit=0") as response:
        assert (response.status, (await response.json())["error"]["param"]) == (400, "limit")
    async with admin.get("/admin/v1/audit?colour=red") as response:
        assert response.status == 400


async def test_no_secret_in_audit(admin):
    """Creating a key audits the name, never the key; rotating the admin token, never it."""
    async with admin.post("/admin/v1/keys", json={"name": "secretive"}) as response:
        key = (await response.json())["key"]
    async with admin.post("/admin/v1/admin-token") as response:
        token = (await response.json())["token"]
    text = str(await audit(admin))
    assert key not in text
    assert token not in text
