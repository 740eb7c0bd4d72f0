"""The admin-API client the CLI and the TUI use: over the Unix socket, or HTTP with a token.

Plain ``http.client`` keeps CLI start-up fast (no event loop, no aiohttp import).
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from tokenhub.errors import DaemonUnavailableError, TokenhubError


class ApiError(TokenhubError):
    """The daemon answered with an error; ``type`` and ``status`` are the daemon's."""

    def __init__(self, status: int, error_type: str, message: str, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.type = error_type
        self.body = body


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class DaemonClient:
    """Talks to one daemon, either at a socket path or at a base URL."""

    def __init__(
        self,
        *,
        socket_path: Path | None = None,
        url: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        if (socket_path is None) == (url is None):
            raise ValueError("give exactly one of socket_path or url")
        self.socket_path = socket_path
        self.url = url.rstrip("/") if url else None
        self.token = token
        self.timeout = timeout

    @property
    def target(self) -> str:
        """Where the daemon is expected, for messages."""
        return self.url or str(self.socket_path)

    def _connection(self, timeout: float | None = None) -> http.client.HTTPConnection:
        wait = self.timeout if timeout is None else timeout
        if self.socket_path is not None:
            return _UnixConnection(str(self.socket_path), wait)
        parts = urlsplit(self.url or "")
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        return cls(parts.hostname or "localhost", parts.port, timeout=wait)

    def _prefix(self) -> str:
        return urlsplit(self.url).path if self.url else ""

    def _headers(self, body: bytes | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.token and self.url:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def request(self, method: str, path: str, payload: Any = None) -> Any:
        """Send one request and return the decoded JSON body; raise ApiError on errors."""
        body = None if payload is None else orjson.dumps(payload)
        conn = self._connection()
        try:
            conn.request(method, self._prefix() + path, body=body, headers=self._headers(body))
            response = conn.getresponse()
            raw = response.read()
        except (ConnectionRefusedError, FileNotFoundError, socket.gaierror) as exc:
            raise self._unavailable() from exc
        except OSError as exc:
            if isinstance(exc, ConnectionError | TimeoutError):
                raise self._unavailable() from exc
            raise
        finally:
            conn.close()
        return _decode(response.status, raw)

    def get(self, path: str) -> Any:
        """GET ``path``."""
        return self.request("GET", path)

    def post(self, path: str, payload: Any = None) -> Any:
        """POST ``payload`` as JSON to ``path``."""
        return self.request("POST", path, payload if payload is not None else {})

    def stream_lines(self, path: str) -> Iterator[str]:
        """GET ``path`` and yield its body line by line as it arrives (SSE, follow modes)."""
        conn = self._connection(timeout=None)
        try:
            conn.request("GET", self._prefix() + path, headers=self._headers(None))
            response = conn.getresponse()
        except (ConnectionRefusedError, FileNotFoundError) as exc:
            conn.close()
            raise self._unavailable() from exc
        if response.status >= http.HTTPStatus.BAD_REQUEST:
            raw = response.read()
            conn.close()
            _decode(response.status, raw)
        try:
            while line := response.readline():
                yield line.decode("utf-8").rstrip("\r\n")
        finally:
            conn.close()

    def _unavailable(self) -> DaemonUnavailableError:
        if self.url:
            return DaemonUnavailableError(f"no tokenhub daemon at {self.url}")
        return DaemonUnavailableError(
            f"no tokenhub daemon at {self.socket_path}; start one with 'tokenhub serve'"
        )


def _decode(status: int, raw: bytes) -> Any:
    try:
        data = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        data = None
    if status < http.HTTPStatus.BAD_REQUEST:
        return data
    body = data if isinstance(data, dict) else {}
    error = body.get("error")
    if not isinstance(error, dict):
        raise ApiError(status, "http_error", f"HTTP {status}", body)
    message = str(error.get("message", f"HTTP {status}"))
    raise ApiError(status, str(error.get("type", "error")), message, body)
