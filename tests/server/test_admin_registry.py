"""Registry admin API: CRUD with validation, 404/409, nothing half-written, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenhub.config import load_settings
from tokenhub.server.app import create_app
from tokenhub.sim import default_scenario, start_simulator
from tokenhub.testing.inprocess import run_app

OPENAI = {"id": "oa", "type": "openai", "base_url": "http://127.0.0.1:9/v1"}
MODEL = {"id": "m1", "provider": "oa", "weight": 6, "max_context_tokens": 16000}


@pytest.fixture
async def admin(tokenhub_home):
    """An admin session over the Unix socket of a running app."""
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as http,
    ):
        yield http


async def call(http, method: str, path: str, json=None):
    """Send one admin request; return (status, body)."""
    async with http.request(method, path, json=json) as response:
        return response.status, await response.json()


async def test_provider_and_model_crud(admin):
    """Create, read, update and delete a provider and a model."""
    status, created = await call(admin, "POST", "/admin/v1/providers", OPENAI)
    assert status == 201
    assert created["source"] == "api"
    assert (await call(admin, "POST", "/admin/v1/models", MODEL))[0] == 201
    status, model = await call(admin, "PATCH", "/admin/v1/models/m1", {"weight": 8})
    assert (status, model["weight"], model["max_context_tokens"]) == (200, 8, 16000)
    status, listed = await call(admin, "GET", "/admin/v1/models")
    assert [m["id"] for m in listed["data"]] == ["m1"]
    status, provider = await call(admin, "PATCH", "/admin/v1/providers/oa", {"enabled": False})
    assert provider["enabled"] is False
    assert (await call(admin, "DELETE", "/admin/v1/models/m1"))[0] == 200
    assert (await call(admin, "DELETE", "/admin/v1/providers/oa"))[0] == 200
    assert (await call(admin, "GET", "/admin/v1/providers"))[1]["data"] == []


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({**OPENAI, "type": "Open AI"}, "type"),
        ({**OPENAI, "base_url": "ftp://x"}, "base_url"),
        ({**OPENAI, "credential": "plaintext-key"}, "credential"),
        ({**OPENAI, "timeout_s": -1}, "timeout_s"),
        ({**OPENAI, "surprise": 1}, "surprise"),
        ({"id": "x", "type": "openai"}, ""),
    ],
)
async def test_bad_provider_is_400_naming_field(admin, body, param):
    """Invalid provider input is a 400 whose param names the field; nothing is stored."""
    status, error = await call(admin, "POST", "/admin/v1/providers", body)
    assert status == 400
    assert error["error"]["type"] == "invalid_request"
    assert error["error"].get("param", "") == param
    assert (await call(admin, "GET", "/admin/v1/providers"))[1]["data"] == []


async def test_unknown_provider_type_is_400(admin):
    """A type no registered kind handles is refused with the known types listed."""
    status, error = await call(admin, "POST", "/admin/v1/providers", {**OPENAI, "type": "bedrock"})
    assert status == 400
    assert "unknown provider type 'bedrock'" in error["error"]["message"]


async def test_bad_model_weight_and_unknown_provider(admin):
    """Weight outside 1-10 and an unknown provider are 400s naming the field."""
    await call(admin, "POST", "/admin/v1/providers", OPENAI)
    status, error = await call(admin, "POST", "/admin/v1/models", {**MODEL, "weight": 11})
    assert (status, error["error"]["param"]) == (400, "weight")
    status, error = await call(admin, "POST", "/admin/v1/models", {**MODEL, "provider": "zz"})
    assert (status, error["error"]["param"]) == (400, "provider")


async def test_unknown_ids_are_404(admin):
    """Reading, changing or deleting something that does not exist is 404."""
    for method, path in [
        ("GET", "/admin/v1/providers/none"),
        ("PATCH", "/admin/v1/providers/none"),
        ("DELETE", "/admin/v1/providers/none"),
        ("GET", "/admin/v1/models/none"),
        ("DELETE", "/admin/v1/models/none"),
    ]:
        status, error = await call(admin, method, path, {} if method == "PATCH" else None)
        assert status == 404, (method, path)
        assert error["error"]["type"] == "not_found"


async def test_conflicts_are_409(admin):
    """A duplicate id, or deleting a provider that still has models, is 409."""
    await call(admin, "POST", "/admin/v1/providers", OPENAI)
    assert (await call(admin, "POST", "/admin/v1/providers", OPENAI))[0] == 409
    await call(admin, "POST", "/admin/v1/models", MODEL)
    assert (await call(admin, "POST", "/admin/v1/models", MODEL))[0] == 409
    status, error = await call(admin, "DELETE", "/admin/v1/providers/oa")
    assert status == 409
    assert "m1" in error["error"]["message"]


async def test_bad_patch_changes_nothing(admin):
    """A PATCH that fails validation leaves the stored object exactly as it was."""
    await call(admin, "POST", "/admin/v1/providers", OPENAI)
    await call(admin, "POST", "/admin/v1/models", MODEL)
    status, _ = await call(admin, "PATCH", "/admin/v1/models/m1", {"weight": 0, "aliases": ["a"]})
    assert status == 400
    assert (await call(admin, "GET", "/admin/v1/models/m1"))[1]["aliases"] == []
    status, _ = await call(admin, "PATCH", "/admin/v1/models/m1", {"id": "other"})
    assert status == 400


async def test_registry_persists_across_restart(tokenhub_home):
    """Providers, models and routing settings made through the API survive a restart."""
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as http,
    ):
        await call(http, "POST", "/admin/v1/providers", OPENAI)
        await call(http, "POST", "/admin/v1/models", MODEL)
        await call(http, "PATCH", "/admin/v1/routing", {"attempt_budget": 2})
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as http,
    ):
        assert (await call(http, "GET", "/admin/v1/models/m1"))[1]["weight"] == 6
        assert (await call(http, "GET", "/admin/v1/routing"))[1]["attempt_budget"] == 2


def config_with_filed_provider(tmp_path) -> Path:
    """Write ./config/config.yaml declaring the provider ``filed``; return its path."""
    config = tmp_path / "config" / "config.yaml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(
        "providers:\n  - {id: filed, type: openai, base_url: 'http://127.0.0.1:9/v1'}\n",
        encoding="utf-8",
    )
    return config


async def test_config_declared_entries_are_read_only(tokenhub_home, tmp_path):
    """Providers from the config file are listed with source=config and refuse API edits."""
    config_with_filed_provider(tmp_path)
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as http,
    ):
        status, listed = await call(http, "GET", "/admin/v1/providers")
        assert listed["data"][0]["source"] == "config"
        status, error = await call(http, "PATCH", "/admin/v1/providers/filed", {"enabled": False})
        assert status == 409
        assert "config file" in error["error"]["message"]


async def test_api_model_on_a_config_file_provider(tokenhub_home, tmp_path):
    """A model added through the API may use a provider declared in the config file.

    It is stored; after a restart without that provider it is dropped with a warning.
    """
    config = config_with_filed_provider(tmp_path)
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as http,
    ):
        status, created = await call(
            http, "POST", "/admin/v1/models", {**MODEL, "provider": "filed"}
        )
        assert (status, created["provider"], created["source"]) == (201, "filed", "api")
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as http,
    ):
        assert (await call(http, "GET", "/admin/v1/models/m1"))[1]["provider"] == "filed"
    config.write_text("providers: []\n", encoding="utf-8")
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as http,
    ):
        assert (await call(http, "GET", "/admin/v1/models/m1"))[0] == 404


async def test_routing_settings_update_and_validation(admin):
    """Routing profiles merge per mode; an invalid value is a 400 naming its path."""
    status, routing = await call(
        admin,
        "PATCH",
        "/admin/v1/routing",
        {"profiles": {"cheap": {"cost": 1, "latency": 0, "failure": 0, "weight": 0}}},
    )
    assert status == 200
    assert routing["profiles"]["cheap"]["cost"] == 1
    assert routing["profiles"]["normal"]["cost"] == 0.3
    status, error = await call(admin, "PATCH", "/admin/v1/routing", {"context_headroom": 0.9})
    assert (status, error["error"]["param"]) == (400, "context_headroom")


async def test_secret_headers_are_masked(admin):
    """Extra headers that look like credentials are masked when a provider is shown."""
    body = {**OPENAI, "headers": {"api-key": "azure-secret-123", "X-Title": "tokenhub"}}
    _, created = await call(admin, "POST", "/admin/v1/providers", body)
    assert created["headers"] == {"api-key": "[REDACTED]", "X-Title": "tokenhub"}


async def test_proxy_passwords_are_masked(admin):
    """A provider's proxy URL is shown with its user and host, never its password."""
    body = {**OPENAI, "proxy": "http://alice:pr0xy-s3cret@proxy.corp:3128", "ca_file": None}
    status, created = await call(admin, "POST", "/admin/v1/providers", body)
    assert (status, created["proxy"]) == (201, "http://alice:***@proxy.corp:3128")
    _, listed = await call(admin, "GET", "/admin/v1/providers")
    _, shown = await call(admin, "GET", "/admin/v1/providers/oa")
    assert "pr0xy-s3cret" not in repr((created, listed, shown))
    assert shown["proxy"] == "http://alice:***@proxy.corp:3128"


async def test_an_unreadable_ca_file_is_refused_and_not_saved(admin, tmp_path):
    """A provider whose ca_file cannot be read is a 400 naming it; nothing is stored."""
    body = {**OPENAI, "ca_file": str(tmp_path / "missing.pem")}
    status, error = await call(admin, "POST", "/admin/v1/providers", body)
    assert status == 400
    assert "cannot read ca_file" in error["error"]["message"]
    assert (await call(admin, "GET", "/admin/v1/providers"))[1]["data"] == []


async def test_route_test_explains_without_calling(tokenhub_home):
    """route/test lists each model eligible or why not, and calls no provider without send."""
    async with start_simulator(default_scenario()) as sim:
        loaded = load_settings()
        async with (
            run_app(loaded, create_app(loaded, environ={})) as running,
            running.unix_session() as http,
        ):
            provider = {"id": "oa", "type": "openai", "base_url": sim.base_url("openai")}
            await call(http, "POST", "/admin/v1/providers", provider)
            await call(
                http,
                "POST",
                "/admin/v1/models",
                {"id": "gpt-4o-mini", "provider": "oa", "weight": 4},
            )
            await call(
                http, "POST", "/admin/v1/models", {"id": "gpt-4o", "provider": "oa", "weight": 8}
            )
            status, report = await call(
                http, "POST", "/admin/v1/route/test", {"prompt": "hi", "min_weight": 6}
            )
            assert status == 200
            assert report["chosen"] == "gpt-4o"
            assert report["rejected"] == [
                {"model": "gpt-4o-mini", "reasons": ["weight_below_min (4 < 6)"]}
            ]
            assert set(report["candidates"][0]["components"]) == {
                "weight",
                "cost",
                "latency",
                "failure",
            }
            assert sim.received == []
            status, report = await call(
                http, "POST", "/admin/v1/route/test", {"prompt": "hi", "send": True}
            )
            assert report["sent"]["response"]["message"]["content"]
            assert len(sim.received) == 1
            status, tested = await call(http, "POST", "/admin/v1/providers/oa/test")
            assert tested["ok"] is True
            status, found = await call(http, "GET", "/admin/v1/providers/oa/discover")
            assert {d["upstream_model"]: d["registered_as"] for d in found["data"]} == {
                "gpt-4o": "gpt-4o",
                "gpt-4o-mini": "gpt-4o-mini",
            }
