"""A real outbound proxy (the ``proxy.py`` package) and a TLS upstream behind a throwaway CA.

The proxy runs as a subprocess on an ephemeral loopback port; its access log (one line per
proxied connection, written when the connection closes) is what proves a request went
through it. The CA and the server certificate come from ``trustme``.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme

from tokenhub.testing.polling import async_wait_until

START_S = 20.0
"""How long the proxy may take to start (a loaded 2-core machine imports slowly)."""


@dataclass
class RunningProxy:
    """A proxy.py process: where it listens and its log."""

    port: int
    log: Path

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        """The log so far."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def wait_for(self, needle: str) -> str:
        """Wait (with a deadline) until the log holds ``needle``; return the log."""

        async def logged() -> bool:
            return needle in self.text()

        await async_wait_until(logged, timeout=10.0, what=f"the proxy to log {needle!r}")
        return self.text()


@contextmanager
def run_proxy(folder: Path, *, basic_auth: str | None = None) -> Iterator[RunningProxy]:
    """Start proxy.py on 127.0.0.1:0 (``basic_auth`` ``user:pass`` makes it demand it)."""
    folder.mkdir(parents=True, exist_ok=True)
    port_file, log = folder / "port", folder / "proxy.log"
    command = [
        sys.executable,
        "-m",
        "proxy",
        "--hostname=127.0.0.1",
        "--port=0",
        f"--port-file={port_file}",
        f"--log-file={log}",
        "--log-level=INFO",
        "--threaded",
        "--num-workers=1",
        "--num-acceptors=1",
    ]
    if basic_auth is not None:
        command.append(f"--basic-auth={basic_auth}")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_S
        while not (port_file.exists() and port_file.read_text().strip()):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"proxy.py did not start: {log.read_text() if log.exists() else ''}"
                )
            time.sleep(0.05)  # a subprocess's readiness: polled with a deadline
        yield RunningProxy(int(port_file.read_text().strip()), log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Certificates:
    """A CA and a server certificate for ``localhost`` and ``127.0.0.1``."""

    ca_file: Path
    """The CA's PEM: what a provider's ``ca_file`` names."""
    server: ssl.SSLContext
    """The upstream's server context."""


def make_certificates(folder: Path) -> Certificates:
    """A fresh trustme CA and a server context signed by it."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    ca_file = folder / "internal-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Certificates(ca_file, server)
