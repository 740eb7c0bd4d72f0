from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tokenhub.cli.sim import register
from tokenhub.sim import ScenarioError

REPO = Path(__file__).resolve().parents[2]


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False)

    @app.callback()
    def root() -> None:
        """Stand-in for the tokenhub root command."""

    register(app)
    return app


def _bad_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text("providers:\n  - name: p\n    type: openai\n    models: [{id: m, ttft: 1}]\n")
    return path


def test_bad_scenario_exits_2_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A bad scenario prints one error line naming the key to stderr and exits 2."""
    monkeypatch.delenv("TOKENHUB_RAISE_ERRORS", raising=False)
    result = CliRunner().invoke(_app(), ["sim", "--scenario", str(_bad_scenario(tmp_path))])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "unknown key 'providers[0].models[0].ttft'" in lines[0]


def test_bad_scenario_reraises_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With TOKENHUB_RAISE_ERRORS=1 the real exception propagates instead of exit 2."""
    monkeypatch.setenv("TOKENHUB_RAISE_ERRORS", "1")
    result = CliRunner().invoke(_app(), ["sim", "--scenario", str(_bad_scenario(tmp_path))])
    assert isinstance(result.exception, ScenarioError)


def test_help_lists_the_options():
    """`tokenhub sim --help` documents --scenario, --host and --port."""
    result = CliRunner().invoke(_app(), ["sim", "--help"])
    assert result.exit_code == 0
    for option in ("--scenario", "--host", "--port"):
        assert option in result.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_health(url: str, proc: subprocess.Popen[str], deadline_s: float) -> dict[str, object]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"sim exited early: {proc.stderr.read() if proc.stderr else ''}"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return dict(json.loads(response.read()))
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)  # polling interval, bounded by the deadline
    pytest.fail(f"{url} did not answer within {deadline_s}s")


@pytest.mark.slow
def test_sim_command_serves_until_terminated():
    """`python -m tokenhub.cli.sim` serves the example scenario and stops cleanly on SIGTERM."""
    port = _free_port()
    scenario = REPO / "config" / "sim.example.yaml"
    env = {k: v for k, v in os.environ.items() if k != "TOKENHUB_RAISE_ERRORS"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokenhub.cli.sim",
            "--scenario",
            str(scenario),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        health = _wait_for_health(f"http://127.0.0.1:{port}/_sim/health", proc, deadline_s=20)
        assert health["providers"] == ["openai", "anthropic", "vllm-a", "vllm-b"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    [line] = out.splitlines()
    assert line.startswith(f"tokenhub sim listening on http://127.0.0.1:{port} (")
    assert f"anthropic=http://127.0.0.1:{port}/anthropic" in line
    assert f"vllm-b=http://127.0.0.1:{port}/vllm-b/v1" in line
