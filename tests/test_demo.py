"""`tokenhub serve --demo` (make run's newcomer mode): a real process answering real clients."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import anthropic
import openai

from tokenhub.demo import GREETING
from tokenhub.testing import run_cli, start_daemon, wait_until


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI against the daemon on the default socket, with wide tables."""
    return run_cli(*args, env={**os.environ, "COLUMNS": "200"})


def table_rows(output: str) -> list[list[str]]:
    """The cells of each body row of a CLI table (header and borders left out)."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def json_documents(output: str) -> list[dict[str, object]]:
    """Each JSON document in ``output`` (the CLI prints them indented, one after another)."""
    decoder, documents, at = json.JSONDecoder(), [], 0
    while at < len(output.rstrip()):
        document, at = decoder.raw_decode(output, at)
        documents.append(document)
        while at < len(output) and output[at].isspace():
            at += 1
    return documents


def test_newcomer_mode_answers_curl_and_the_openai_sdk(tokenhub_home):
    """With no provider configured, --newcomer serves simulated models to curl and the SDK."""
    with start_daemon("--newcomer") as daemon:
        request = urllib.request.Request(
            f"{daemon.url}/v1/chat/completions",
            data=json.dumps(
                {"model": "auto", "messages": [{"role": "user", "content": "Hello there"}]}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
            assert response.headers["X-Tokenhub-Model"].startswith("sim-")
        assert body["choices"][0]["message"]["content"] == GREETING
        client = openai.OpenAI(base_url=f"{daemon.url}/v1", api_key="none", max_retries=0)
        with client:
            completion = client.chat.completions.create(
                model="tokenhub/cheap", messages=[{"role": "user", "content": "hi"}]
            )
            streamed = "".join(
                chunk.choices[0].delta.content or ""
                for chunk in client.chat.completions.create(
                    model="sim-claude-sonnet",
                    messages=[{"role": "user", "content": "hey"}],
                    stream=True,
                )
                if chunk.choices
            )
        assert completion.model.startswith("sim-")
        assert streamed == GREETING
        with anthropic.Anthropic(base_url=daemon.url, api_key="none", max_retries=0) as claude:
            message = claude.messages.create(
                model="tokenhub/high_confidence",
                max_tokens=100,
                messages=[{"role": "user", "content": "hello"}],
            )
            with claude.messages.stream(
                model="sim-gpt-4o", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                final = stream.get_final_message()
        assert message.content[0].text == GREETING
        assert final.content[0].text == GREETING
        status = cli("status", "--json")
        assert json.loads(status.stdout)["demo"] is True
        assert daemon.stop() == 0
    assert any("demo mode" in line for line in daemon.stderr)


def test_demo_cli_flows(tokenhub_home):
    """providers/models list and route test work against the demo daemon over the socket."""
    with start_daemon("--demo"):
        providers = json.loads(cli("providers", "list", "--json").stdout)
        assert {p["id"] for p in providers} == {"sim-openai", "sim-anthropic", "sim-vllm"}
        models = {row[0]: row[1:] for row in table_rows(cli("models", "list").stdout)}
        assert models["sim-claude-sonnet"][:2] == ["sim-anthropic", "8"]
        assert len(models) == 5
        routed = cli("route", "test", "Summarise this", "--mode", "high_confidence")
        assert routed.returncode == 0, routed.stderr
        lines = routed.stdout.strip().splitlines()
        choice = next(x for x in lines if x.startswith("choice"))
        # Near-best models share the first slot by traffic weight (selection_margin).
        assert choice in {
            "choice (*): sim-claude-sonnet, the top score",
            "choice (*): sim-gpt-4o, not the top score (sim-claude-sonnet scored higher)",
        }
        marks = {row[1]: row[0] for row in table_rows(routed.stdout)}
        assert sorted(marks) == ["sim-claude-sonnet", "sim-gpt-4o"]
        assert sorted(marks.values()) == ["*", "~"]  # the choice, and the other it was drawn with
        assert choice.startswith(f"choice (*): {next(m for m, k in marks.items() if k == '*')},")
        rejected = [line.strip() for line in lines if line.strip().startswith("rejected ")]
        assert rejected == [
            "rejected sim-claude-haiku: weight_below_min (5 < 6)",
            "rejected sim-gpt-4o-mini: weight_below_min (4 < 6)",
            "rejected sim-llama-8b: weight_below_min (3 < 6)",
        ]
        sent = json.loads(cli("route", "test", "hello", "--send", "--json").stdout)
        assert sent["sent"]["response"]["message"]["content"] == GREETING
        tested = cli("providers", "test", "sim-vllm")
        assert tested.returncode == 0
        assert re.fullmatch(r"sim-vllm: ok, 1 models listed in [\d.]+ ms\n", tested.stdout)
        created = json.loads(cli("keys", "create", "--name", "ci", "--rpm", "60", "--json").stdout)
        assert created["key"].startswith("th-")
        listed = cli("keys", "list")
        assert table_rows(listed.stdout) == [
            ["ci", created["prefix"], "chat", "$0.0000 / -", "60", "active"]
        ]
        assert created["key"] not in listed.stdout
        audit = table_rows(cli("audit", "list").stdout)
        assert [row[2:] for row in audit] == [["key.create", "ci", "ok"]]
        refused = cli(
            "providers", "add", "openai", "--type", "openai",
            "--base-url", "https://api.openai.com/v1", "--credential", "env:OPENAI_API_KEY",
        )  # fmt: skip
        assert refused.returncode == 1
        assert "demo mode" in refused.stdout + refused.stderr
        assert "Traceback" not in refused.stderr
        after = json.loads(cli("providers", "list", "--json").stdout)
        assert "openai" not in {p["id"] for p in after}


def test_newcomer_mode_is_off_once_the_store_holds_a_provider(tokenhub_home):
    """A provider added to the real store (tokenhub serve + CLI) ends make run's demo mode."""
    with start_daemon():
        added = cli(
            "providers", "add", "local", "--type", "vllm", "--base-url", "http://127.0.0.1:9/v1",
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    with start_daemon("--newcomer") as daemon:
        status = json.loads(cli("status", "--json").stdout)
        assert status["demo"] is False
        providers = json.loads(cli("providers", "list", "--json").stdout)
        assert [p["id"] for p in providers] == ["local"]
        assert daemon.stop() == 0


def test_events_cli_prints_live_events(tokenhub_home):
    """`tokenhub events` prints events as they happen (here: an admin action and a request)."""
    with start_daemon("--demo") as daemon:
        follower = subprocess.Popen(
            [sys.executable, "-m", "tokenhub", "events", "--count", "2", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def connected() -> bool:
                metrics = urllib.request.urlopen(f"{daemon.url}/metrics", timeout=5).read()
                return b"tokenhub_event_subscribers 1.0" in metrics

            wait_until(connected, what="the events subscriber")
            assert cli("keys", "create", "--name", "watch").returncode == 0
            body = json.dumps({"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
            request = urllib.request.Request(
                f"{daemon.url}/v1/chat/completions",
                data=body.encode(),
                headers={"Content-Type": "application/json"},
            )
            urllib.request.urlopen(request, timeout=10).read()
            out, err = follower.communicate(timeout=30)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.communicate()
        assert follower.returncode == 0, err
        events = json_documents(out)
        assert [event["type"] for event in events] == ["admin.action", "routing.decision"]
        assert (events[0]["action"], events[0]["target"]) == ("key.create", "watch")
        assert (events[1]["status"], events[1]["model"][:4]) == ("ok", "sim-")


def test_newcomer_mode_is_off_with_a_database_url(tokenhub_home, tmp_path):
    """A database URL set on purpose is a deployment: --newcomer never turns it into a demo."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'chosen.db'}"
    with start_daemon("--newcomer", "--db-url", url) as daemon:
        status = json.loads(cli("status", "--json").stdout)
        assert status["demo"] is False
        assert daemon.stop() == 0
