"""The live adapters, one pooled ``UpstreamClient`` per provider.

Each provider gets its own client (keep-alive connections, a connection limit), so one
slow or broken upstream cannot starve another's connections and a changed provider can be
rebuilt without touching the rest. The app holds one pool for its lifetime.

What a client needs from outside is settled when it is built, never per request: its
limits (``upstream`` settings, the provider's ``connection_limit``), its TLS trust (the
provider's ``ca_file``, read once into an SSL context) and its outbound proxy (the
provider's ``proxy``, else the environment the pool was given).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from tokenhub.clock import Clock
from tokenhub.config import UpstreamSettings
from tokenhub.errors import ConfigError, NotFoundError
from tokenhub.providers.base import ProviderAdapter
from tokenhub.providers.kinds import ProviderKinds
from tokenhub.providers.proxy import ProxyRoutes, proxy_routes
from tokenhub.providers.transport import UpstreamClient
from tokenhub.schemas import ProviderConfig

DEFAULTS = UpstreamSettings()

DRAIN_S = 30.0
"""How long a replaced provider's in-flight requests may finish before its client closes."""

_DRAIN_POLL_S = 0.05
USER_AGENT = "tokenhub"


@dataclass(slots=True)
class _Live:
    config: ProviderConfig
    adapter: ProviderAdapter
    client: UpstreamClient


class ProviderPool:
    """Owns every provider's client and adapter; ``sync`` keeps them in step with config."""

    def __init__(
        self,
        kinds: ProviderKinds,
        clock: Clock,
        *,
        settings: UpstreamSettings = DEFAULTS,
        environ: Mapping[str, str] | None = None,
        on_exhausted: Callable[[str], None] | None = None,
        drain_s: float = DRAIN_S,
    ) -> None:
        self._kinds = kinds
        self._clock = clock
        self._settings = settings
        self._environ = os.environ if environ is None else environ
        self._on_exhausted = on_exhausted
        self._drain_s = drain_s
        self._live: dict[str, _Live] = {}
        self._retiring: dict[asyncio.Task[None], _Live] = {}

    async def __aenter__(self) -> Self:
        """Enter: nothing to open until ``sync``."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close every client."""
        await self.close()

    async def sync(self, configs: list[ProviderConfig]) -> None:
        """Add new providers, rebuild changed ones and drop removed ones.

        A replaced or removed provider's client closes once its in-flight requests end
        (or after ``drain_s``), so a config change does not cut answers in progress.
        """
        for config in configs:
            self._kinds.check(config.type)
        wanted = {c.id: c for c in configs}
        # Everything that can fail (a bad proxy URL, an unreadable CA file) before any change.
        built = {
            provider_id: self._build(config)
            for provider_id, config in wanted.items()
            if (current := self._live.get(provider_id)) is None or current.config != config
        }
        for provider_id in [p for p in self._live if p not in wanted]:
            self._retire(self._live.pop(provider_id))
        for provider_id, entry in built.items():
            current = self._live.get(provider_id)
            self._live[provider_id] = entry
            if current is not None:
                self._retire(current)

    def check(self, config: ProviderConfig) -> None:
        """ConfigError if ``config`` could not be built (its proxy URL, its ``ca_file``)."""
        self._kinds.check(config.type)
        trust(config)
        proxies(config, self._environ)

    def get(self, provider_id: str) -> ProviderAdapter:
        """The adapter of a provider; NotFoundError if the pool does not hold it."""
        live = self._live.get(provider_id)
        if live is None:
            raise NotFoundError(f"provider '{provider_id}' is not loaded")
        return live.adapter

    def __contains__(self, provider_id: object) -> bool:
        """Whether the pool holds an adapter for ``provider_id``."""
        return provider_id in self._live

    @property
    def ids(self) -> list[str]:
        """The providers held, sorted."""
        return sorted(self._live)

    def client(self, provider_id: str) -> UpstreamClient:
        """The HTTP client of a provider (for diagnostics and tests)."""
        live = self._live.get(provider_id)
        if live is None:
            raise NotFoundError(f"provider '{provider_id}' is not loaded")
        return live.client

    async def close(self) -> None:
        """Close every client now, including those still draining."""
        live = [*self._live.values(), *self._retiring.values()]
        self._live = {}
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)
        await asyncio.gather(*(entry.client.close() for entry in live))

    def _build(self, config: ProviderConfig) -> _Live:
        limit = config.connection_limit or self._settings.connection_limit
        exhausted = self._on_exhausted
        client = UpstreamClient(
            limit=limit + self._settings.short_call_reserve,
            stream_limit=limit,
            keepalive_s=self._settings.keepalive_s,
            user_agent=USER_AGENT,
            ssl_context=trust(config),
            proxies=proxies(config, self._environ),
            on_exhausted=None if exhausted is None else lambda: exhausted(config.id),
        )
        return _Live(config, self._kinds.create(config, client, self._clock), client)

    def _retire(self, entry: _Live) -> None:
        task = asyncio.get_running_loop().create_task(self._drain(entry))
        self._retiring[task] = entry
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._retiring.pop(task, None)

    async def _drain(self, entry: _Live) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + self._drain_s
        try:
            while _in_flight(entry.adapter) and loop.time() < until:  # noqa: ASYNC110 - the adapter contract exposes counts, not an idle event
                await asyncio.sleep(_DRAIN_POLL_S)
        finally:
            with contextlib.suppress(Exception):
                await entry.client.close()


def trust(config: ProviderConfig) -> ssl.SSLContext | None:
    """The SSL context of a provider with a ``ca_file`` (the system's CAs and the file's).

    None without one: the client then shares the process's default context.
    """
    if config.ca_file is None:
        return None
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=config.ca_file)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise ConfigError(
            f"provider '{config.id}': cannot read ca_file {config.ca_file}: {reason}"
        ) from None
    return context


def proxies(config: ProviderConfig, environ: Mapping[str, str]) -> ProxyRoutes | None:
    """The provider's outbound proxies (its ``proxy`` setting, else ``environ``); None: none."""
    try:
        return proxy_routes(config.proxy, environ)
    except ValueError as exc:
        raise ConfigError(f"provider '{config.id}': {exc}") from None


def _in_flight(adapter: ProviderAdapter) -> int:
    return sum(e.in_flight for e in adapter.endpoints())
