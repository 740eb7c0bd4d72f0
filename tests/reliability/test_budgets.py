"""Budgets hold under concurrency, and spend survives ``kill -9`` of the daemon under load."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import aiohttp
import pytest
import yaml

from tokenhub.sim import start_simulator
from tokenhub.testing.load import chat_request, run_load, send, summarize
from tokenhub.testing.process import DaemonProcess, start_daemon
from tokenhub.testing.stack import gateway_stack

from . import pair
from .pair import OUTPUT_TOKENS, Size, sizes

IN_USD_PER_MTOK, OUT_USD_PER_MTOK = 1.0, 2.0
FLUSH_WINDOW_S = 0.5
"""The request writer's default ``writer.flush_interval_s``."""


async def create_key(admin: aiohttp.ClientSession, name: str, **body: object) -> str:
    """Create a consumer key over the admin socket and return it."""
    async with admin.post("/admin/v1/keys", json={"name": name, **body}) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["key"])


async def spent(admin: aiohttp.ClientSession, name: str) -> float:
    """The key's recorded spend, as the admin API shows it."""
    async with admin.get(f"/admin/v1/keys/{name}") as response:
        return float((await response.json())["spent_usd"])


@pytest.mark.parametrize("size", sizes(Size(0, 64), Size(0, 64)))
async def test_concurrent_requests_on_a_small_budget(size: Size, table):
    """64 requests at once on a budget for 20: about 20 served, spend ≤ budget + one estimate."""
    scenario = pair.scenario({"ttft_ms": 300})
    settings = {"auth": {"require_api_key": True}}
    async with gateway_stack(scenario, pair.registry(10), settings=settings) as stack:
        probe_key = await create_key(stack.admin, "probe")
        request = chat_request(pair.ALIAS, max_tokens=OUTPUT_TOKENS, api_key=probe_key)
        async with stack.client.post(
            "/v1/chat/completions", json=request.body, headers=request.headers
        ) as response:
            assert response.status == 200
            usage = (await response.json())["usage"]
            cost = float(response.headers["X-Tokenhub-Cost-USD"])
        estimate = (
            usage["prompt_tokens"] * IN_USD_PER_MTOK + OUTPUT_TOKENS * OUT_USD_PER_MTOK
        ) / 1e6
        budget = 20 * cost
        key = await create_key(stack.admin, "small", budget_usd=budget, period="day")
        request = chat_request(pair.ALIAS, max_tokens=OUTPUT_TOKENS, api_key=key)
        async with aiohttp.ClientSession(stack.url) as http:
            outcomes = await asyncio.gather(
                *(send(http, request, 0.0, 30.0) for _ in range(size.concurrency))
            )
        total = await spent(stack.admin, "small")
    summary = summarize(outcomes)
    holds = total <= budget + estimate
    table(
        "64 concurrent requests on a budget for 20",
        "spend ≤ budget + one request's estimate",
        f"{summary.succeeded} served, {summary.statuses.get(402, 0)} x 402;"
        f" spend {total / budget:.2f} x the budget",
        holds,
    )
    assert total <= budget + estimate, f"spent {total / budget:.2f} x the budget"


def write_config(home: Path, sim_url: str) -> Path:
    """A daemon config with provider ``pa`` at the simulator and its model under the alias."""
    provider = {"id": "pa", "type": "openai", "base_url": f"{sim_url}/pa/v1", "timeout_s": 10}
    model = pair.model("model-a", "pa").model_dump(mode="json")
    config = {"providers": [provider], "models": [model], "access_log": False}
    path = home / "reliability.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def admin_session(daemon: DaemonProcess) -> aiohttp.ClientSession:
    """A session on the daemon's admin socket."""
    connector = aiohttp.UnixConnector(path=str(daemon.socket_path))
    return aiohttp.ClientSession("http://localhost", connector=connector)


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of the SQLite database, as it reads after a crash."""
    with sqlite3.connect(db) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


async def read_spend(env: dict[str, str], name: str) -> float:
    """Start the daemon, read the key's spend, and stop it again."""
    with start_daemon(env=env) as daemon:
        async with admin_session(daemon) as admin:
            total = await spent(admin, name)
        daemon.stop()
    return total


@pytest.mark.parametrize("size", sizes(Size(1.5, 8, timeout_s=1), Size(5, 16, timeout_s=5)))
async def test_kill_9_under_load(size: Size, table, tokenhub_home: Path):
    """Each kill -9 under load loses at most one flush window of spend; the database stays sound."""
    cycles = int(size.timeout_s)  # doubles as the number of kills
    losses: list[float] = []
    checks: list[str] = []
    lost_usd = served_usd = 0.0
    # The simulator runs in this process: the blocking readiness wait of start_daemon only
    # happens while no request is in flight.
    async with start_simulator(pair.scenario({})) as sim:
        env = {"TOKENHUB_CONFIG": str(write_config(tokenhub_home, sim.url))}
        key, before = "", 0.0
        for cycle in range(cycles):
            with start_daemon(env=env) as daemon:
                async with admin_session(daemon) as admin:
                    key = key or await create_key(admin, "load")
                    if cycle == 0:
                        before = await spent(admin, "load")
                run = await run_load(
                    daemon.url,
                    chat_request(pair.ALIAS, api_key=key),
                    concurrency=size.concurrency,
                    duration_s=size.duration_s,
                    timeout_s=5,
                    schedule=[
                        (size.duration_s, lambda d=daemon: d.process.send_signal(signal.SIGKILL))
                    ],
                )
                daemon.process.wait(timeout=10)
            checks.append(integrity(tokenhub_home / "data" / "tokenhub.db"))
            served = sum(o.cost_usd or 0.0 for o in run.outcomes if o.ok)
            after = await read_spend(env, "load")
            window = served / size.duration_s * FLUSH_WINDOW_S
            one = max((o.cost_usd or 0.0 for o in run.outcomes), default=0.0)
            losses.append((before + served - after) / max(window + one, 1e-12))
            lost_usd += max(0.0, before + served - after)
            served_usd += served
            before = after
    worst = max(losses)
    holds = worst <= 1.0 and all(c == "ok" for c in checks)
    table(
        f"kill -9 under load, {cycles} times",
        "spend lost ≤ one flush window each time; PRAGMA integrity_check ok",
        f"{100 * lost_usd / max(served_usd, 1e-12):.0f} % of the spend lost; worst kill lost"
        f" {worst:.1f} x a flush window's spend; integrity {sorted(set(checks))}",
        holds,
    )
    assert all(c == "ok" for c in checks), checks
    assert worst <= 1.0, f"lost up to {worst:.1f} flush windows of spend"
