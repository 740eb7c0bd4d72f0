"""Outbound proxies: which one an origin goes through, and the CONNECT tunnel for https.

Resolved once, when the pool builds a provider's client: the provider's ``proxy`` setting
if it has one (``""`` or ``none``: explicitly no proxy), else the environment's
``https_proxy``/``http_proxy``/``all_proxy`` (lowercase first, as curl reads them) with
``no_proxy`` exceptions. A client without a proxy skips all of this: the pool hands it
``None``, and its request path does not change. An https origin is reached through a
``CONNECT`` tunnel with TLS to the upstream inside it; an http origin gets its requests in
absolute form on a plain connection to the proxy. Credentials in a proxy URL become a
``Proxy-Authorization: Basic`` header and are never shown: ``Proxy.address`` is host and
port only, and ``schemas.mask_password`` hides the password wherever the URL is displayed.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

from tokenhub.providers.connection import Connection, Origin
from tokenhub.providers.transport_errors import ProxyRefusedError

NO_PROXY_WORDS = frozenset({"", "none"})
"""A provider ``proxy`` setting that means: no proxy, whatever the environment says."""

_ENV_NAMES = {
    "https": ("https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"),
    "http": ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"),
}
_NO_PROXY_NAMES = ("no_proxy", "NO_PROXY")
_MAX_TUNNEL_HEAD = 16 * 1024
_OK = 200


@dataclass(frozen=True, slots=True)
class Proxy:
    """One HTTP proxy: where it listens and the credential it wants (if any)."""

    host: str
    port: int
    authorization: str | None = None
    """The ``Proxy-Authorization`` header value, from the URL's user and password."""

    @property
    def address(self) -> str:
        """``host:port``: how errors and logs name the proxy (never its credentials)."""
        return f"{self.host}:{self.port}"


def parse_proxy(url: str) -> Proxy:
    """A proxy from ``http://[user:password@]host[:port]`` (``host:port`` alone means http).

    Raises ``ValueError`` with a message that never repeats the URL (it may hold a password).
    """
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("a proxy must be an http://host:port URL") from None
    if parts.scheme == "https":
        raise ValueError("an https:// proxy (TLS to the proxy) is not supported; use http://")
    if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError("a proxy must be an http://host:port URL")
    authorization = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    return Proxy(parts.hostname, port or 80, authorization)


class NoProxy:
    """``no_proxy`` entries: ``*``, hosts, domain suffixes, ``host:port``, IPs and CIDRs."""

    def __init__(self, value: str) -> None:
        self.everything = False
        self._names: list[tuple[str, int | None]] = []
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in value.replace(" ", ",").split(","):
            self._add(raw.strip().lower())

    def _add(self, entry: str) -> None:
        if not entry:
            return
        if entry == "*":
            self.everything = True
            return
        try:
            self._networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            pass
        else:
            return
        host, port = entry, None
        if entry.count(":") == 1 or entry.startswith("["):  # host:port or [v6]:port
            name, _, digits = entry.rpartition(":")
            if digits.isdigit():
                host, port = name.strip("[]"), int(digits)
        self._names.append((host.lstrip("*").lstrip("."), port))

    def matches(self, host: str, port: int) -> bool:
        """Whether ``host:port`` is reached directly, bypassing the proxy."""
        if self.everything:
            return True
        host = host.lower().strip("[]").rstrip(".")
        for name, only_port in self._names:
            if only_port is not None and only_port != port:
                continue
            if host == name or host.endswith("." + name):
                return True
        if self._networks:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                return False
            return any(address in network for network in self._networks)
        return False


@dataclass(frozen=True, slots=True)
class ProxyRoutes:
    """The proxies of one provider's client, per scheme, and the hosts that bypass them."""

    http: Proxy | None
    https: Proxy | None
    bypass: NoProxy | None = None

    def proxy_for(self, origin: Origin) -> Proxy | None:
        """The proxy that reaches ``origin``; None to connect directly."""
        scheme, host, port = origin
        proxy = self.https if scheme == "https" else self.http
        if proxy is None or (self.bypass is not None and self.bypass.matches(host, port)):
            return None
        return proxy


def proxy_routes(setting: str | None, environ: Mapping[str, str]) -> ProxyRoutes | None:
    """A provider's proxies from its ``proxy`` setting, else the environment; None: none.

    Raises ``ValueError`` (naming the setting or variable, never the URL) for a bad URL.
    """
    if setting is not None:
        if setting.strip().lower() in NO_PROXY_WORDS:
            return None
        proxy = _parse_named(setting, "the provider's 'proxy' setting")
        return ProxyRoutes(proxy, proxy)
    found = {scheme: _from_env(names, environ) for scheme, names in _ENV_NAMES.items()}
    if found["http"] is None and found["https"] is None:
        return None
    bypass = next((environ[n] for n in _NO_PROXY_NAMES if environ.get(n)), "")
    return ProxyRoutes(found["http"], found["https"], NoProxy(bypass) if bypass else None)


def _from_env(names: tuple[str, ...], environ: Mapping[str, str]) -> Proxy | None:
    for name in names:
        value = environ.get(name)
        if value:
            return _parse_named(value, f"the environment variable {name}")
    return None


def _parse_named(url: str, where: str) -> Proxy:
    try:
        return parse_proxy(url)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


async def connect_proxy(
    loop: asyncio.AbstractEventLoop,
    proxy: Proxy,
    factory: Callable[[], asyncio.Protocol],
) -> asyncio.Transport:
    """A plain connection to ``proxy``; failing to reach it is a ``ProxyRefusedError``."""
    try:
        transport, _ = await loop.create_connection(factory, proxy.host, proxy.port)
    except OSError as exc:
        detail = exc.strerror or type(exc).__name__
        raise ProxyRefusedError(proxy.address, f"is unreachable ({detail})") from exc
    return transport


async def open_tunnel(
    loop: asyncio.AbstractEventLoop,
    proxy: Proxy,
    origin: Origin,
    factory: Callable[[], Connection],
    context: ssl.SSLContext,
) -> Connection:
    """A connection to an https ``origin`` through ``proxy``: CONNECT, then TLS inside.

    Raises ``ProxyRefusedError`` when the proxy cannot be reached or answers anything but
    200 (a 407: it wants, or did not accept, credentials); TLS errors as ``OSError``s.
    """
    _, host, port = origin
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = f"CONNECT {target} HTTP/1.1\r\nhost: {target}\r\n"
    if proxy.authorization is not None:
        head += f"proxy-authorization: {proxy.authorization}\r\n"
    answered: asyncio.Future[None] = loop.create_future()
    request = (head + "\r\n").encode()
    transport = await connect_proxy(loop, proxy, lambda: _Tunnel(request, answered, proxy))
    try:
        await answered
        conn = factory()
        tls = await loop.start_tls(transport, conn, context, server_hostname=host)
    except BaseException:
        transport.close()
        if answered.done() and not answered.cancelled():
            answered.exception()  # retrieved here, so asyncio does not report it as lost
        raise
    if tls is None:  # only a closing transport gives none back
        raise ProxyRefusedError(proxy.address, "closed the tunnel during the TLS handshake")
    conn.connection_made(tls)  # start_tls does not call it
    return conn


class _Tunnel(asyncio.Protocol):
    """Sends CONNECT and reads the proxy's answer head; the TLS layer takes over after."""

    def __init__(self, request: bytes, answered: asyncio.Future[None], proxy: Proxy) -> None:
        self._request = request
        self._answered = answered
        self._proxy = proxy
        self._head = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Ask for the tunnel."""
        cast("asyncio.Transport", transport).write(self._request)

    def data_received(self, data: bytes) -> None:
        """Collect the answer head; resolve once it is complete."""
        if self._answered.done():
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > _MAX_TUNNEL_HEAD:
                self._refuse("answered with a head too long to be HTTP")
            return
        status_line = self._head[:end].split(b"\r\n", 1)[0].split()
        if len(status_line) < 2 or not status_line[1].isdigit():  # noqa: PLR2004 - version, code
            self._refuse("answered with something that is not HTTP")
        elif int(status_line[1]) != _OK:
            reason = b" ".join(status_line[2:]).decode("latin-1")[:80]
            self._refuse(f"refused the tunnel (HTTP {int(status_line[1])} {reason}".rstrip() + ")")
        else:
            self._answered.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        """A proxy that closes before answering refused too."""
        if not self._answered.done():
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
            self._refuse(
                f"closed the connection before answering ({detail})"
                if detail
                else "closed the connection before answering"
            )

    def _refuse(self, detail: str) -> None:
        if not self._answered.done():
            self._answered.set_exception(ProxyRefusedError(self._proxy.address, detail))
