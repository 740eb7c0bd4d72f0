"""``POST /admin/v1/route/test``: candidates by score, the choice, and how it was drawn."""

from __future__ import annotations

import pytest

from tokenhub.config import load_settings
from tokenhub.server.app import create_app
from tokenhub.testing.inprocess import run_app

PROVIDER = {"id": "oa", "type": "openai", "base_url": "http://127.0.0.1:9/v1"}
# Two models alike but for the id score the same (ties rank in id order: "a" then "b");
# "c" is far cheaper to ignore and scores well below them.
TWIN = {"provider": "oa", "weight": 6, "input_usd_per_mtok": 1, "output_usd_per_mtok": 2}
MODELS = [
    {"id": "a", **TWIN},
    {"id": "b", **TWIN},
    {"id": "c", "provider": "oa", "weight": 1, "expected_latency_ms": 9000},
]


@pytest.fixture
async def admin(tokenhub_home):
    """An admin session on an app holding the three models above."""
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={})) as running,
        running.unix_session() as http,
    ):
        await call(http, "POST", "/admin/v1/providers", PROVIDER)
        for model in MODELS:
            status, body = await call(http, "POST", "/admin/v1/models", model)
            assert status == 201, body
        yield http


async def call(http, method: str, path: str, json=None):
    """Send one admin request; return (status, body)."""
    async with http.request(method, path, json=json) as response:
        return response.status, await response.json()


async def route_test(http, routing: dict) -> dict:
    """Set the routing selection settings, then explain routing 'hi'."""
    status, body = await call(http, "PATCH", "/admin/v1/routing", routing)
    assert status == 200, body
    status, report = await call(http, "POST", "/admin/v1/route/test", {"prompt": "hi"})
    assert status == 200, report
    return report


async def test_a_choice_drawn_below_the_top_score_is_explained(admin):
    """With the top model's traffic weight 0, the draw picks the second: the report says so."""
    report = await route_test(
        admin, {"top_k": 2, "selection_margin": 0.05, "traffic_weights": {"a": 0}}
    )
    assert [c["model"] for c in report["candidates"]] == ["a", "b", "c"]
    scores = [c["score"] for c in report["candidates"]]
    assert scores == sorted(scores, reverse=True)
    assert (report["top"], report["chosen"]) == ("a", "b")
    assert report["selection"] == {
        "selection_margin": 0.05,
        "top_k": 2,
        "pool": ["a", "b"],
        "drawn": True,
    }
    by_model = {c["model"]: c for c in report["candidates"]}
    assert {m: (c["attempt"], c["in_pool"]) for m, c in by_model.items()} == {
        "b": (1, True),
        "a": (2, True),
        "c": (3, False),
    }
    assert (by_model["a"]["traffic_weight"], by_model["b"]["traffic_weight"]) == (0, 1.0)


async def test_without_a_margin_the_choice_is_the_top_score(admin):
    """selection_margin 0 with top_k 1 leaves a pool of one: no draw, the top is chosen."""
    report = await route_test(admin, {"top_k": 1, "selection_margin": 0.0})
    assert (report["top"], report["chosen"]) == ("a", "a")
    assert report["selection"]["pool"] == ["a"]
    assert report["selection"]["drawn"] is False
    assert [c["in_pool"] for c in report["candidates"]] == [True, False, False]


async def test_the_margin_bounds_the_pool(admin):
    """A wide top_k still keeps models below the margin out of the pool."""
    report = await route_test(admin, {"top_k": 3, "selection_margin": 0.01})
    assert report["selection"]["pool"] == ["a", "b"]
    assert report["chosen"] in {"a", "b"}
