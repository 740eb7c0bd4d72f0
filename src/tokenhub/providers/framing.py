"""An HTTP/1.1 request's bytes, and the origin a URL's connection serves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from yarl import URL

from tokenhub.providers.transport_errors import HeaderError

if TYPE_CHECKING:
    from tokenhub.providers.connection import Origin
    from tokenhub.providers.proxy import Proxy

_DEFAULT_PORTS = {"http": 80, "https": 443}


def frame_request(
    method: str,
    url: URL,
    headers: Mapping[str, str],
    body: bytes | None,
    proxy: Proxy | None,
    user_agent: str,
) -> bytes:
    """The request's head and body as bytes; ``HeaderError`` if a header holds a line break.

    Through a ``proxy`` (plain http only; https tunnels), the target is the absolute URL.
    """
    host = url.host_port_subcomponent
    target = url.raw_path_qs if proxy is None else f"http://{host}{url.raw_path_qs}"
    lines = [f"{method} {target} HTTP/1.1\r\nhost: {host}\r\n"]
    count = 2
    if proxy is not None and proxy.authorization is not None:
        lines.append(f"proxy-authorization: {proxy.authorization}\r\n")
        count += 1
    if "user-agent" not in headers:
        lines.append(f"user-agent: {user_agent}\r\n")
        count += 1
    if body is not None:
        # Canonical case: some proxies (proxy.py) look for this header case-sensitively.
        lines.append(f"Content-Length: {len(body)}\r\n")
        count += 1
    for name, value in headers.items():
        lines.append(f"{name}: {value}\r\n")
    count += len(headers) + 1
    lines.append("\r\n")
    text = "".join(lines)
    if text.count("\n") != count or text.count("\r") != count:
        raise HeaderError(_line_break_in(headers))
    head = text.encode("utf-8")
    return head + body if body else head


def origin_of(url: URL) -> Origin:
    """Scheme, host and port of ``url``; ValueError unless it is http(s) with a host."""
    scheme = url.scheme
    host = url.raw_host
    if scheme not in _DEFAULT_PORTS or not host:
        raise ValueError(f"not an http(s) URL with a host: {url}")
    return scheme, host, url.port or _DEFAULT_PORTS[scheme]


def _line_break_in(headers: Mapping[str, str]) -> str:
    for name, value in headers.items():
        if any(c in name or c in value for c in "\r\n"):
            return f"the header '{name}' holds a line break (a credential read with its newline?)"
    return "the request target holds a line break"
