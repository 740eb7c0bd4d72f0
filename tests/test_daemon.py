"""`tokenhub serve` as a real process: both listeners, status over the socket, signals."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from aiohttp import web

from tokenhub.config import load_settings
from tokenhub.daemon import DaemonAlreadyRunningError, claim_socket, reload_settings, serve
from tokenhub.testing import run_cli, start_daemon, wait_until
from tokenhub.testing.polling import async_wait_until
from tokenhub.testing.process import start_sim


def get_json(url: str) -> dict:
    """GET a URL and decode its JSON body."""
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_serve_answers_on_both_listeners_and_stops_on_sigterm(tokenhub_home):
    """The daemon serves /healthz over TCP, status over the socket, and exits 0 on SIGTERM."""
    with start_daemon() as daemon:
        assert get_json(f"{daemon.url}/healthz") == {"status": "ok"}
        assert daemon.socket_path.stat().st_mode & 0o777 == 0o600
        result = run_cli("status", "--json")
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert report["listeners"] == [daemon.url, f"unix:{daemon.socket_path}"]
        assert report["migration"]["current"] == report["migration"]["head"]
        assert daemon.stop(signal.SIGTERM) == 0
    assert not daemon.socket_path.exists()
    assert not (tokenhub_home / "run" / "tokenhub.pid").exists()
    lines = [json.loads(line) for line in daemon.stderr]
    assert any(line["msg"] == "stopped" for line in lines)
    access = [line for line in lines if line["logger"] == "tokenhub.access"]
    assert {line["path"] for line in access} >= {"/healthz", "/admin/v1/status"}


def test_sigint_also_stops_cleanly(tokenhub_home):
    """Ctrl-C (SIGINT) ends the daemon with status 0 and removes the socket."""
    with start_daemon() as daemon:
        assert daemon.stop(signal.SIGINT) == 0
    assert not daemon.socket_path.exists()


def test_second_daemon_on_live_socket_refuses(tokenhub_home):
    """A second `tokenhub serve` on a live daemon's socket exits 1 with a clear message."""
    with start_daemon() as daemon:
        result = run_cli("serve", "--port", "0")
        assert result.returncode == 1
        assert result.stderr.strip() == (
            f"error: a tokenhub daemon is already running on {daemon.socket_path}"
        )
        assert get_json(f"{daemon.url}/healthz") == {"status": "ok"}
        daemon.stop()


def test_stale_socket_is_cleaned_up(tokenhub_home, tmp_path):
    """A socket file nobody listens on is removed and reused."""
    import socket as sock

    path = tmp_path / "stale.sock"
    s = sock.socket(sock.AF_UNIX, sock.SOCK_STREAM)
    s.bind(str(path))
    s.close()
    assert path.exists()
    claim_socket(path)
    assert not path.exists()


def test_claim_socket_refuses_live_socket(tmp_path):
    """claim_socket raises when something accepts connections on the path."""
    import socket as sock

    path = tmp_path / "live.sock"
    s = sock.socket(sock.AF_UNIX, sock.SOCK_STREAM)
    s.bind(str(path))
    s.listen()
    try:
        with pytest.raises(DaemonAlreadyRunningError):
            claim_socket(path)
    finally:
        s.close()


def test_status_without_daemon(tokenhub_home):
    """With no daemon, status prints the documented line and exits 1, no traceback."""
    result = run_cli("status")
    socket_path = tokenhub_home / "run" / "tokenhub.sock"
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: no tokenhub daemon at {socket_path}; start one with 'tokenhub serve'"
    )
    assert "Traceback" not in result.stderr


def test_bad_config_exits_2_with_one_line(tokenhub_home, tmp_path):
    """An invalid setting stops `serve` before binding: one line, exit status 2."""
    result = subprocess.run(
        [sys.executable, "-m", "tokenhub", "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**__import__("os").environ, "TOKENHUB_PORT": "http"},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(
        "error: invalid setting 'port' from environment variable TOKENHUB_PORT:"
    )


def test_sighup_reload_applies_and_reports(tokenhub_home, tmp_path):
    """SIGHUP re-reads the config file; a database change is reported as needing a restart."""
    config = tmp_path / "config" / "config.yaml"
    config.parent.mkdir()
    config.write_text("log_level: info\n", encoding="utf-8")
    with start_daemon() as daemon:
        other = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
        config.write_text(f"log_level: debug\ndb_url: '{other}'\n", encoding="utf-8")
        daemon.process.send_signal(signal.SIGHUP)
        line = wait_until(
            lambda: next((ln for ln in daemon.stderr if "config reloaded" in ln), None),
            what="the reload log line",
        )
        record = json.loads(line)
        assert record["applied"] == ["log_level"]
        assert record["needs_restart"] == ["db_url"]
        assert daemon.stop() == 0


def test_reload_keeps_settings_on_bad_config(tmp_path):
    """A broken config file on reload is logged and the running settings stay."""
    config = tmp_path / "c.yaml"
    config.write_text("log_level: info\n", encoding="utf-8")
    loaded = load_settings(config_file=config, environ={"TOKENHUB_HOME": str(tmp_path)})
    config.write_text("log_level: loud\n", encoding="utf-8")
    assert reload_settings(loaded) == []
    assert loaded.settings.log_level == "info"


async def test_graceful_shutdown_lets_in_flight_request_finish(tokenhub_home):
    """On SIGTERM a request already running completes before the daemon exits."""
    from tokenhub.server.app import create_app

    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        started.set()
        await release.wait()
        return web.json_response({"done": True})

    async def factory(loaded):
        app = create_app(loaded)
        app.router.add_get("/slow", slow)
        return app

    loaded = load_settings({"port": 0})
    server = asyncio.create_task(serve(loaded, factory))
    await async_wait_until(lambda: _socket_ready(server, loaded.socket_path), what="the socket")
    import aiohttp

    connector = aiohttp.UnixConnector(path=str(loaded.socket_path))
    async with aiohttp.ClientSession(connector=connector) as http:
        pending = asyncio.create_task(http.get("http://localhost/slow"))
        await asyncio.wait_for(started.wait(), 10)
        signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0)
        assert not server.done()
        release.set()
        response = await pending
        assert await response.json() == {"done": True}
    assert await asyncio.wait_for(server, 10) == 0
    assert not loaded.socket_path.exists()


async def _socket_ready(server: asyncio.Task, path) -> bool:
    if server.done():
        server.result()  # surface the daemon's error instead of timing out
    return path.exists()


def test_settle_collector_freezes_start_up_and_sets_serving_thresholds():
    """Once listening, start-up is frozen and the serving thresholds are set."""
    import gc

    from tokenhub.daemon import GC_THRESHOLDS, settle_collector

    thresholds = gc.get_threshold()
    try:
        settle_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _mapped_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text(encoding="utf-8")


def test_vault_cryptography_loads_only_when_the_vault_is_used(tokenhub_home):
    """An unused vault keeps cryptography and argon2 out of the daemon; init loads them.

    (About 6.7 MiB of resident memory a daemon without a vault does not carry.)
    """
    env = {"TOKENHUB_VAULT__KDF_MEMORY_KIB": "8192"}
    with start_daemon(env=env) as daemon:
        assert get_json(f"{daemon.url}/healthz") == {"status": "ok"}
        pid = daemon.process.pid
        assert "/cryptography/" not in _mapped_libraries(pid)
        assert "/_argon2_cffi_bindings/" not in _mapped_libraries(pid)
        init = subprocess.run(
            [sys.executable, "-m", "tokenhub", "vault", "init", "--password-stdin"],
            input="correct horse battery staple\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert init.returncode == 0, init.stderr
        assert "/cryptography/" in _mapped_libraries(pid)
        assert "/_argon2_cffi_bindings/" in _mapped_libraries(pid)
        status = run_cli("vault", "status", "--json")
        assert json.loads(status.stdout)["state"] == "unlocked"


HANG = {"provider": "oa", "hang": True}
PACED_SCENARIO = """
seed: 1
providers:
  - name: oa
    type: openai
    models: [{id: up, output_tokens: 200, tokens_per_second: 200}]
"""


async def test_clients_that_leave_are_info_lines_and_499s_in_the_daemon_log(
    tokenhub_home, tmp_path
):
    """The daemon's own log: clients gone mid-body, mid-call or mid-stream are 499s, no errors."""
    import aiohttp

    scenario = tmp_path / "paced.yaml"
    scenario.write_text(PACED_SCENARIO, encoding="utf-8")
    with start_sim(scenario) as sim, start_daemon() as daemon:
        connector = aiohttp.UnixConnector(path=str(daemon.socket_path))
        async with aiohttp.ClientSession("http://localhost", connector=connector) as admin:
            provider = {"id": "oa", "type": "openai", "base_url": f"{sim.url}/oa/v1"}
            for path, body in (
                ("/admin/v1/providers", provider),
                ("/admin/v1/models", {"id": "m", "provider": "oa", "upstream_model": "up"}),
            ):
                async with admin.post(path, json=body) as response:
                    assert response.status == 201, await response.text()
        async with aiohttp.ClientSession(daemon.url) as http:
            await asyncio.gather(*(_leave_mid_stream(http, f"s-{i}") for i in range(5)))
            for _ in range(5):
                async with http.post(f"{sim.url}/_sim/enqueue", json=HANG) as response:
                    assert response.status == 200
            await _leave_in_flight(http, daemon.url, 5)
        streams = await async_wait_until(lambda: _cut_streams(sim.url, 5), what="the cut streams")
        assert daemon.stop() == 0
    lines = [json.loads(line) for line in daemon.stderr]
    assert [x for x in lines if x["level"] in {"error", "critical"} or "exc" in x] == []
    access = [x for x in lines if x["msg"] == "request" and x["path"] == "/v1/chat/completions"]
    # The hung calls were cancelled with their clients: logged before the stop, not cut
    # by the shutdown after its grace.
    assert sorted(x["request_id"] for x in access) == [
        *(f"{tag}-{i}" for tag in "bcs" for i in range(5)),
    ]
    assert {x["status"] for x in access} == {499}
    stopping = next(i for i, x in enumerate(lines) if x["msg"] == "shutting down")
    assert all(lines.index(x) < stopping for x in access)
    assert all(s["written"] < s["total"] // 2 for s in streams)


async def _leave_mid_stream(http, request_id: str) -> None:
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    response = await http.post(
        "/v1/chat/completions", json=body, headers={"X-Request-ID": request_id}
    )
    assert response.status == 200, await response.text()
    for _ in range(20):
        await response.content.readuntil(b"\n\n")
    response.close()


CALL = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'


async def _leave_in_flight(http, url: str, count: int) -> None:
    """Send ``count`` half bodies and ``count`` whole ones; close all once all are in.

    The whole ones wait on an upstream that hangs.
    """
    host, port = url.removeprefix("http://").split(":")
    writers = []
    for i in range(2 * count):
        tag, length, body = ("b", 100, b'{"mo') if i < count else ("c", len(CALL), CALL)
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
            b"X-Request-ID: %s-%d\r\nContent-Type: application/json\r\n\r\n%s"
            % (length, tag.encode(), i % count, body)
        )
        writers.append(writer)
    await async_wait_until(lambda: _in_flight_at_least(http, 2 * count + 1), what="all in flight")
    for writer in writers:
        writer.close()


async def _in_flight_at_least(http, count: int) -> bool:
    async with http.get("/metrics") as response:
        text = await response.text()
    line = next(x for x in text.splitlines() if x.startswith("tokenhub_http_in_flight_requests"))
    return float(line.split()[-1]) >= count


async def _cut_streams(sim_url: str, count: int) -> list | None:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{sim_url}/_sim/streams") as response:
        streams = (await response.json())["streams"]
    ended = [s for s in streams if s["outcome"] == "client_closed"]
    return ended if len(ended) == count else None
