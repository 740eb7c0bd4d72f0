"""Redaction, proven: known secrets driven through every flow never show up where they must not.

A real daemon and a real simulator run as processes. The test drives the vault (hidden
prompts on a pseudo-terminal, a wrong password), escrowed and environment provider keys,
consumer keys, upstream 401s and errors that echo the key back, bad requests and a locked
vault — then searches the daemon's log output, the database file and its WAL, every HTTP
response (body and headers) and the CLI's output for each secret.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tokenhub.testing.process import start_daemon, start_sim
from tokenhub.testing.terminal import run_in_terminal

ESCROW_KEY = f"sk-escrow-{secrets.token_hex(12)}"
ENV_KEY = f"sk-envkey-{secrets.token_hex(12)}"
PASSWORD = f"correct horse battery {secrets.token_hex(4)}"
WRONG = "definitely the wrong password"

SCENARIO = f"""
seed: 1
providers:
  - name: oa
    type: openai
    api_key: {ESCROW_KEY}
    models: [{{id: m-oa, output_tokens: 8}}]
  - name: ob
    type: openai
    api_key: {ENV_KEY}
    models: [{{id: m-ob, output_tokens: 8}}]
"""


class Recorder:
    """Collects every HTTP response and CLI output the test sees."""

    def __init__(self) -> None:
        self.responses: list[str] = []
        self.cli: list[str] = []

    def http(
        self,
        url: str,
        *,
        method: str = "GET",
        body: dict | None = None,
        token: str | None = None,
        key: str | None = None,
    ) -> tuple[int, dict]:
        """Send one request, record the whole response, return (status, JSON body)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key:
            headers["Authorization"] = f"Bearer {key}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                status, raw, head = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, raw, head = exc.code, exc.read(), dict(exc.headers)
        self.responses.append(f"{head}\n{raw.decode(errors='replace')}")
        is_json = head.get("Content-Type", "").startswith("application/json")
        return status, json.loads(raw) if raw and is_json else {}

    def run(
        self, *args: str, stdin: str | None = None, record: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the CLI; record its output unless it is a designed show-once output."""
        result = subprocess.run(
            [sys.executable, "-m", "tokenhub", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if record:
            self.cli.append(result.stdout + result.stderr)
        return result


@pytest.fixture
def scenario_file(tmp_path) -> Path:
    """The simulator scenario, requiring each provider's key."""
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO, encoding="utf-8")
    return path


def test_no_secret_leaks_anywhere(tokenhub_home, scenario_file, monkeypatch):
    """Logs, database (+WAL), HTTP responses and CLI output hold none of the secrets."""
    rec = Recorder()
    env = {
        "OB_KEY": ENV_KEY,
        "TOKENHUB_AUTH__REQUIRE_API_KEY": "true",
        "TOKENHUB_VAULT__KDF_MEMORY_KIB": "8192",
        "TOKENHUB_LOG_LEVEL": "debug",
    }
    with start_sim(scenario_file) as sim, start_daemon(env=env) as daemon:
        cli = [sys.executable, "-m", "tokenhub"]
        init = run_in_terminal([*cli, "vault", "init"], [PASSWORD, PASSWORD], env=dict(os.environ))
        assert init.returncode == 0, init.output
        assert PASSWORD not in init.output  # hidden prompt: never echoed
        admin_token = init.output.split("store it safely): ")[1].split()[0]
        wrong = run_in_terminal([*cli, "vault", "unlock"], [WRONG], env=dict(os.environ))
        assert wrong.returncode == 1
        rec.cli += [wrong.output]
        consumer_key = register(rec, sim.url)
        base = daemon.url

        chat = {"model": "m-oa", "messages": [{"role": "user", "content": "hi"}]}
        assert (
            rec.http(f"{base}/v1/chat/completions", method="POST", body=chat, key=consumer_key)[0]
            == 200
        )
        assert (
            rec.http(f"{base}/v1/chat/completions", method="POST", body=chat, key="th-bogus")[0]
            == 401
        )
        bad = {"model": "m-oa", "messages": "not a list"}
        assert (
            rec.http(f"{base}/v1/chat/completions", method="POST", body=bad, key=consumer_key)[0]
            == 400
        )
        # Upstream errors that echo the key back, as real providers sometimes do.
        echo = f"Incorrect API key provided: {ESCROW_KEY}"
        rec.http(
            f"{sim.url}/_sim/enqueue",
            method="POST",
            body={"provider": "oa", "status": 401, "message": echo},
        )
        status, body = rec.http(
            f"{base}/v1/chat/completions",
            method="POST",
            body={**chat, "model": "auto"},
            key=consumer_key,
        )
        assert status == 200
        assert body["model"] == "m-ob"
        for _ in range(4):  # the only candidate gets the whole attempt budget: fail it all
            queued = rec.http(
                f"{sim.url}/_sim/enqueue",
                method="POST",
                body={"provider": "ob", "status": 500, "message": f"boom {ENV_KEY}"},
            )
            assert queued[0] == 200
        status, body = rec.http(
            f"{base}/v1/chat/completions",
            method="POST",
            body={**chat, "model": "m-ob"},
            key=consumer_key,
        )
        assert status == 502, body
        read_everything(rec, base, admin_token)
        # Re-entering the key clears the credential_invalid mark the echoed 401 left.
        reset = rec.run("providers", "set-key", "oa", "--key-stdin", stdin=ESCROW_KEY + "\n")
        assert reset.returncode == 0, reset.stderr
        assert rec.run("vault", "lock").returncode == 0
        status, body = rec.http(
            f"{base}/v1/chat/completions", method="POST", body=chat, key=consumer_key
        )
        assert (status, body["error"]["type"]) == (503, "vault_locked")
        assert "tokenhub vault unlock" in body["error"]["message"]
        unlocked = rec.run("vault", "unlock", "--password-stdin", stdin=PASSWORD + "\n")
        assert unlocked.returncode == 0
        assert (
            rec.http(f"{base}/v1/chat/completions", method="POST", body=chat, key=consumer_key)[0]
            == 200
        )
        assert rec.run("vault", "lock").returncode == 0
        assert any(
            ESCROW_KEY in str(r) for r in sim_received(sim.url)
        )  # the key did reach the provider
        assert daemon.stop() == 0
        logs = "\n".join(daemon.stdout + daemon.stderr)

    audit_actions = logs  # logs also hold the access lines of every call above
    assert "error: wrong vault password" in rec.cli[0]
    data = tokenhub_home / "data"
    database = b"".join(p.read_bytes() for p in data.iterdir() if p.name.startswith("tokenhub.db"))
    places = {
        "logs": audit_actions,
        "responses": "\n".join(rec.responses),
        "cli": "\n".join(rec.cli),
        "database": database.decode("latin-1"),
    }
    assert_captured(places)
    for secret_name, secret in {
        "escrowed provider key": ESCROW_KEY,
        "env provider key": ENV_KEY,
        "vault password": PASSWORD,
        "wrong password attempt": WRONG,
        "admin token": admin_token,
        "consumer key": consumer_key,
    }.items():
        for place, text in places.items():
            assert secret not in text, f"{secret_name} found in {place}"


def assert_captured(places: dict[str, str]) -> None:
    """Each place holds what the flows wrote (an empty capture would hide nothing).

    The upstream errors that echoed a key reached the client masked, not dropped.
    """
    assert "/v1/chat/completions" in places["logs"]
    assert "Incorrect API key provided: [redacted]" in places["responses"]
    assert "HTTP 500 server_error: boom [redacted]" in places["responses"]
    assert "vault_locked" in places["responses"]
    assert "m-oa" in places["database"]
    assert "m-oa on oa: weight 8" in places["cli"]


def register(rec: Recorder, sim_url: str) -> str:
    """Add an escrowed and an environment provider, their models and a consumer key."""
    assert (
        rec.run(
            "providers",
            "add",
            "oa",
            "--type",
            "openai",
            "--base-url",
            f"{sim_url}/oa/v1",
            "--key-stdin",
            stdin=ESCROW_KEY + "\n",
        ).returncode
        == 0
    )
    assert (
        rec.run(
            "providers",
            "add",
            "ob",
            "--type",
            "openai",
            "--base-url",
            f"{sim_url}/ob/v1",
            "--credential",
            "env:OB_KEY",
        ).returncode
        == 0
    )
    for model, provider, weight in (("m-oa", "oa", "8"), ("m-ob", "ob", "5")):
        assert (
            rec.run("models", "add", model, "--provider", provider, "--weight", weight).returncode
            == 0
        )
    created = rec.run("keys", "create", "--name", "app", "--json", record=False)
    return str(json.loads(created.stdout)["key"])


def read_everything(rec: Recorder, base: str, admin_token: str) -> None:
    """Every admin read over TCP with the token, and every read command of the CLI."""
    for path in (
        "/admin/v1/status",
        "/admin/v1/providers",
        "/admin/v1/health",
        "/admin/v1/requests",
        "/admin/v1/audit",
        "/admin/v1/vault",
        "/metrics",
    ):
        assert rec.http(f"{base}{path}", token=admin_token)[0] == 200
    for args in (
        ("status",),
        ("providers", "list"),
        ("providers", "show", "oa"),
        ("health",),
        ("audit", "list"),
        ("logs", "requests"),
        ("vault", "status"),
        ("config", "show"),
        ("keys", "list"),
    ):
        assert rec.run(*args).returncode == 0, args


def sim_received(url: str) -> list[dict]:
    """What the simulator received (its own admin endpoint)."""
    with urllib.request.urlopen(f"{url}/_sim/received", timeout=10) as response:
        return list(json.loads(response.read())["received"])
