"""The TSDB admin API: series shape, tiers for long ranges, 400s, restarts and the request hook."""

from __future__ import annotations

import pytest

from tokenhub.clock import FakeClock
from tokenhub.config import load_settings
from tokenhub.observability.tsdb_query import METRICS
from tokenhub.server.app import create_app
from tokenhub.server.app_keys import TSDB
from tokenhub.testing.inprocess import run_app

T0 = 1_699_999_200.0  # a whole hour
DAY = 86_400.0


def hit(app, model: str = "m", provider: str = "p", *, ok: bool = True) -> None:
    """Record one request of 0.25 s with 10 input and 5 output tokens costing $0.5."""
    app[TSDB].record(
        model,
        provider,
        ok=ok,
        latency_s=0.25,
        ttft_s=None,
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.5,
    )


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock 45 s into a minute, the app's time source."""
    return FakeClock(T0 + 45)


@pytest.fixture
async def running(tokenhub_home, clock):
    """A started app on the fake clock, with an admin session over the Unix socket."""
    loaded = load_settings()
    async with (
        run_app(loaded, create_app(loaded, environ={}, clock=clock)) as running,
        running.unix_session() as http,
    ):
        yield running.app, http


async def get(http, query: str, status: int = 200) -> dict:
    """GET the query endpoint and check the status."""
    async with http.get(f"/admin/v1/tsdb/query?{query}") as response:
        assert response.status == status, await response.text()
        return await response.json()


async def test_series_shape_and_values(running):
    """The answer names metric, unit, range, step and tier, with one series per model/provider."""
    app, http = running
    hit(app)
    hit(app, ok=False)
    hit(app, "m2")
    body = await get(http, f"metric=requests&from={T0}&to={T0 + 60}&step=30")
    assert {k: body[k] for k in ("metric", "unit", "from", "to", "step", "tier")} == {
        "metric": "requests",
        "unit": "1/s",
        "from": T0,
        "to": T0 + 60,
        "step": 30,
        "tier": "10s",
    }
    assert body["series"] == [
        {"model": "m", "provider": "p", "points": [[T0, 0.0], [T0 + 30, 2 / 30]]},
        {"model": "m2", "provider": "p", "points": [[T0, 0.0], [T0 + 30, 1 / 30]]},
    ]
    rate = await get(http, f"metric=error_rate&model=m&group=none&from={T0}&to={T0 + 60}&step=30")
    assert rate["series"] == [
        {"model": "m", "provider": None, "points": [[T0, None], [T0 + 30, 0.5]]}
    ]


async def test_defaults_to_the_last_hour(running, clock):
    """Without from/to the last hour is answered at a 10 s step; negative times are relative."""
    app, http = running
    hit(app)
    body = await get(http, "metric=cost_usd&group=none")
    assert (body["to"] - body["from"], body["step"]) == (3600 + 45 - 40, 10)
    assert body["series"][0]["points"][-1] == [T0 + 40, 0.5]
    relative = await get(http, "metric=cost_usd&group=none&from=-600&to=-0.5")
    assert relative["from"] == T0 + 45 - 600 - 5


@pytest.mark.parametrize(
    ("age", "tier", "step"),
    [(3600, "10s", 10), (3 * DAY, "1m", 1800), (30 * DAY, "1h", 10_800)],
)
async def test_long_ranges_read_coarser_tiers(running, clock, age, tier, step):
    """Ranges reaching past a tier's retention are answered from the next coarser tier."""
    _, http = running
    body = await get(http, f"metric=requests&from={clock.now - age}&group=none")
    assert (body["tier"], body["step"]) == (tier, step)


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("", "metric"),
        ("metric=nope", "metric"),
        ("metric=requests&step=0", "step"),
        ("metric=requests&step=abc", "step"),
        ("metric=requests&from=yesterday", "from"),
        ("metric=requests&from=nan", "from"),
        (f"metric=requests&from={T0}&to={T0 - 10}", "to"),
        (f"metric=requests&from={T0 - 7 * DAY + 120}&step=1", "step"),  # > 10000 points
        ("metric=requests&group=team", "group"),
        ("metric=requests&colour=red", "colour"),
    ],
)
async def test_bad_parameters_are_400_naming_them(running, query, param):
    """A missing, unknown or malformed parameter is a 400 whose body names it."""
    _, http = running
    body = await get(http, query, status=400)
    assert body["error"]["param"] == param


async def test_metrics_lists_names_units_and_tiers(running):
    """The metrics endpoint lists every metric with its unit, and each tier's retention."""
    _, http = running
    async with http.get("/admin/v1/tsdb/metrics") as response:
        body = await response.json()
    assert [m["name"] for m in body["data"]] == list(METRICS)
    assert all(m["unit"] and m["description"] for m in body["data"])
    assert body["tiers"] == [
        {"tier": "10s", "resolution_s": 10, "retention_s": DAY},
        {"tier": "1m", "resolution_s": 60, "retention_s": 7 * DAY},
        {"tier": "1h", "resolution_s": 3600, "retention_s": 90 * DAY},
    ]


async def test_history_survives_a_restart(tokenhub_home, clock):
    """Stopping the app saves even the open bucket; a new app on the same database has it."""
    loaded = load_settings()
    async with run_app(loaded, create_app(loaded, environ={}, clock=clock)) as first:
        hit(first.app)
        hit(first.app, "m2")
    clock.advance(5)
    async with (
        run_app(loaded, create_app(loaded, environ={}, clock=clock)) as second,
        second.unix_session() as http,
    ):
        body = await get(http, f"metric=requests&from={T0}&to={T0 + 60}&step=60&group=none")
    assert body["series"][0]["points"] == [[T0, 2 / 60]]


async def test_consumer_requests_are_recorded(stack, oai):
    """A request through the gateway shows up in the TSDB under its model and provider."""
    await oai.chat.completions.create(model="big-oa", messages=[{"role": "user", "content": "hi"}])
    async with stack.admin.get("/admin/v1/tsdb/query?metric=tokens&model=big-oa") as response:
        body = await response.json()
    (series,) = body["series"]
    assert (series["model"], series["provider"]) == ("big-oa", "oa")
    assert sum(v for _, v in series["points"]) > 0
