"""The processes a benchmark phase runs: upstream simulator, direct, lean, tokenhub, LiteLLM.

Every process is started with ``taskset`` (servers under test on the server core, the
upstream beside the load generator), its output goes to a log file in the run folder, and
it is ready when a real chat request is answered — which is also how startup time is
measured: from ``Popen`` to the first answered request.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness import wrk

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
LITELLM_VENV = BENCH / ".venv-litellm"
PROBE_BODY = {
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Say hello to the benchmark in one short sentence."}],
}
UPSTREAM_PLACEHOLDER = "http://UPSTREAM"
JSON = "application/json"
LITELLM_MASTER_KEY = "sk-bench-litellm-master-key-0000000000000000"  # as in peers/litellm.yaml
LITELLM_ENV = {
    # No outbound calls: bundled cost map, no release check, no telemetry, no feedback box.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_DISABLE_LATEST_RELEASE_CHECK": "true",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
    "LITELLM_LOCAL_BLOG_POSTS": "true",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "true",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "true",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "true",
    "LITELLM_LOG": "ERROR",
    "DISABLE_ADMIN_UI": "True",
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Spec:
    """How to start one server and talk to it."""

    name: str
    argv: list[str]
    port: int
    chat_path: str
    model: str
    env: dict[str, str] = field(default_factory=dict)
    cpu: int | None = None
    plan_path: str | None = None
    api_key: str = ""
    # Called until it succeeds once the process runs, before the first chat request
    # (tokenhub: create the benchmark's API key over the admin socket).
    setup: Callable[[Spec], None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wrk_run(
        self,
        script: str,
        connections: int,
        seconds: float,
        *,
        path: str | None = None,
        delay_ms: float = 0.0,
    ) -> wrk.WrkRun:
        """A wrk run of ``script`` against this server (``path``: the chat path if None)."""
        url = self.url + (self.chat_path if path is None else path)
        return wrk.WrkRun(
            script, url, connections, seconds, self.model, delay_ms, api_key=self.api_key
        )


@dataclass
class Running:
    """A started server: its process, its spec and how long it took to answer."""

    spec: Spec
    process: subprocess.Popen[bytes]
    log_path: Path
    startup_s: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)


def post_json(
    url: str, path: str, body: dict, api_key: str = "", timeout: float = 10.0
) -> tuple[int, bytes]:
    """POST a JSON body with http.client; (status, body)."""
    host, port = url.removeprefix("http://").split(":")
    headers = {"Content-Type": JSON}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def answers(spec: Spec) -> bool:
    """True when the server answers a chat request with 200 and a choice."""
    try:
        body = {"model": spec.model, **PROBE_BODY}
        status, body = post_json(spec.url, spec.chat_path, body, spec.api_key)
    except OSError:
        return False
    return status == 200 and b'"choices"' in body


def start(spec: Spec, log_dir: Path, timeout: float = 90.0) -> Running:
    """Start the server pinned to ``spec.cpu`` and wait for its first answered request."""
    log_path = log_dir / f"{spec.name}.log"
    pin = ["taskset", "-c", str(spec.cpu)] if spec.cpu is not None else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENHUB_")}
    env.update(spec.env)
    with log_path.open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*pin, *spec.argv], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT
        )
    running = Running(spec, process, log_path)
    deadline = started + timeout
    while not (_set_up(spec) and answers(spec)):
        if process.poll() is not None or time.perf_counter() > deadline:
            running.stop()
            tail = log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{spec.name} did not answer within {timeout:.0f} s:\n{tail}")
        time.sleep(0.01)
    running.startup_s = time.perf_counter() - started
    return running


def _set_up(spec: Spec) -> bool:
    if spec.setup is None:
        return True
    try:
        spec.setup(spec)
    except OSError:  # not listening yet
        return False
    spec.setup = None
    return True


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket (tokenhub's admin API is open to the socket's peer)."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(str(self.unix_path))
        self.sock = sock


def create_api_key(socket_path: Path) -> str:
    """Create tokenhub's benchmark key with a rate limit and a budget, so both are checked."""
    # Only "chat" exists as a scope until /v1/plan lands (orchestration), which adds "plan".
    body = {"name": "bench", "scopes": ["chat"], "budget_usd": 1e9, "rpm": 1_000_000}
    conn = UnixHTTPConnection(socket_path)
    try:
        conn.request("POST", "/admin/v1/keys", json.dumps(body), {"Content-Type": JSON})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    if response.status != 201:
        raise RuntimeError(f"creating the API key failed: {response.status} {data[:300]!r}")
    return str(json.loads(data)["key"])


# -- the specs --------------------------------------------------------------------------


def upstream_spec(name: str, scenario: Path, cpu: int | None) -> Spec:
    """The provider simulator (bench/upstream.py) serving ``scenario``."""
    port = free_port()
    argv = [sys.executable, str(BENCH / "upstream.py"), "--scenario", str(scenario)]
    argv += ["--port", str(port)]
    return Spec(name, argv, port, "/openai/v1/chat/completions", "gpt-4o-mini", cpu=cpu)


def lean_spec(upstream: Spec, cpu: int | None) -> Spec:
    """The lean floor (bench/lean_proxy.py) in front of the upstream's OpenAI provider."""
    port = free_port()
    argv = [sys.executable, str(BENCH / "lean_proxy.py"), "--port", str(port)]
    argv += ["--upstream", f"{upstream.url}/openai/v1"]
    return Spec("lean", argv, port, "/v1/chat/completions", "gpt-4o-mini", cpu=cpu)


def tokenhub_spec(upstream: Spec, workdir: Path, home: Path, cpu: int | None) -> Spec:
    """``tokenhub serve`` with bench/tokenhub.yaml pointed at the upstream.

    The config requires API keys; the key is created through the admin socket as soon as
    the daemon listens, so startup time includes it.
    """
    config = workdir / "tokenhub.yaml"
    text = (BENCH / "tokenhub.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace(UPSTREAM_PLACEHOLDER, upstream.url), encoding="utf-8")
    port, sock = free_port(), home / "th.sock"
    argv = [sys.executable, "-m", "tokenhub", "serve", "--config", str(config)]
    argv += ["--port", str(port), "--socket", str(sock)]
    env = {"TOKENHUB_HOME": str(home)}
    spec = Spec("tokenhub", argv, port, "/v1/chat/completions", "auto", env, cpu, "/v1/plan")
    spec.setup = _key_setup(sock)
    return spec


def _key_setup(sock: Path) -> Callable[[Spec], None]:
    def setup(spec: Spec) -> None:
        spec.api_key = create_api_key(sock)

    return setup


def litellm_available() -> bool:
    return (LITELLM_VENV / "bin" / "litellm").exists()


def litellm_spec(upstream: Spec, cpu: int | None) -> Spec:
    """LiteLLM's proxy (bench/.venv-litellm), one worker, offline, on the same upstream."""
    port = free_port()
    argv = [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(BENCH / "peers/litellm.yaml")]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    argv += ["--telemetry", "False"]
    env = {**LITELLM_ENV, "BENCH_UPSTREAM_OPENAI": f"{upstream.url}/openai/v1"}
    key = LITELLM_MASTER_KEY
    return Spec("litellm", argv, port, "/v1/chat/completions", "gpt-4o-mini", env, cpu, None, key)


def litellm_version() -> str | None:
    """The installed LiteLLM version, from its dist-info folder name."""
    for path in LITELLM_VENV.glob("lib/python*/site-packages/litellm-*.dist-info"):
        if match := re.match(r"litellm-([\w.]+)\.dist-info", path.name):
            return match.group(1)
    return None


def bare_spec(upstream: Spec, server: str, cpu: int | None) -> Spec:
    """A bare proxy (bench/bare_proxy.py): ``raw`` or ``aiohttp`` in front of a bare client."""
    port = free_port()
    argv = [sys.executable, str(BENCH / "bare_proxy.py"), "--server", server]
    argv += ["--port", str(port), "--upstream", f"{upstream.url}/openai/v1"]
    name = f"bare-{server}"
    return Spec(name, argv, port, "/v1/chat/completions", "gpt-4o-mini", cpu=cpu)
