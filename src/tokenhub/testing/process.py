"""Run ``tokenhub serve`` as a real child process on an ephemeral port and a temp socket."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tokenhub.testing.polling import wait_until

READY = re.compile(r"^tokenhub listening on (http://\S+) and unix:(\S+)$")


@dataclass
class DaemonProcess:
    """A running daemon child process and what it printed."""

    process: subprocess.Popen[str]
    url: str = ""
    socket_path: Path = Path()
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the daemon and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)

    def log_text(self) -> str:
        """Everything the daemon wrote to stderr so far."""
        return "\n".join(self.stderr)


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``tokenhub ARGS`` as a child process (against the daemon on the default socket)."""
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "tokenhub", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def _pump(stream: IO[str], sink: list[str]) -> None:
    # Appending line by line (not extend) makes each line visible to the poller at once.
    for line in stream:
        sink.append(line.rstrip("\n"))  # noqa: PERF401 - one append per line makes each visible to the poller at once


SIM_READY = re.compile(r"^tokenhub sim listening on (http://\S+) ")


@contextmanager
def start_daemon(
    *args: str, env: dict[str, str] | None = None, timeout: float = 20.0
) -> Iterator[DaemonProcess]:
    """Start ``tokenhub serve ARGS`` (``--port 0`` unless given) and wait until it listens."""
    argv = [sys.executable, "-m", "tokenhub", "serve", *args]
    if "--port" not in args:
        argv += ["--port", "0"]
    with _start(argv, READY, env, timeout) as (daemon, match):
        daemon.url, daemon.socket_path = match.group(1), Path(match.group(2))
        yield daemon


@contextmanager
def start_sim(scenario: Path, *, timeout: float = 20.0) -> Iterator[DaemonProcess]:
    """Start ``tokenhub sim --scenario FILE --port 0``; ``url`` is its base address."""
    argv = [sys.executable, "-m", "tokenhub", "sim", "--scenario", str(scenario), "--port", "0"]
    with _start(argv, SIM_READY, None, timeout) as (sim, match):
        sim.url = match.group(1)
        yield sim


@contextmanager
def _start(
    argv: list[str], ready: re.Pattern[str], env: dict[str, str] | None, timeout: float
) -> Iterator[tuple[DaemonProcess, re.Match[str]]]:
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env
    )
    daemon = DaemonProcess(proc)
    pumps = [
        threading.Thread(target=_pump, args=(stream, sink), daemon=True)
        for stream, sink in ((proc.stdout, daemon.stdout), (proc.stderr, daemon.stderr))
    ]
    for pump in pumps:
        pump.start()
    try:
        match = wait_until(lambda: _ready(daemon, ready), timeout=timeout, what="readiness")
        yield daemon, match
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for pump in pumps:
            pump.join(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def _ready(daemon: DaemonProcess, ready: re.Pattern[str]) -> re.Match[str] | None:
    if daemon.process.poll() is not None:
        raise RuntimeError(f"process exited early:\n{daemon.log_text()}")
    for line in daemon.stdout:
        if match := ready.match(line):
            return match
    return None
