"""Typed application keys: every shared resource of the app, no string keys, no globals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.auth.keyring import KeyRing
from tokenhub.clock import Clock
from tokenhub.config import LoadedSettings
from tokenhub.dispatch.gateway import Gateway
from tokenhub.observability.events import EventBus
from tokenhub.observability.metrics import Metrics
from tokenhub.observability.redaction import Redactor
from tokenhub.observability.tracing import Tracing
from tokenhub.observability.tsdb import Tsdb
from tokenhub.server.routes import RouteTable
from tokenhub.store.tsdb_store import TsdbStore
from tokenhub.store.writer import BackgroundWriter
from tokenhub.vault import Vault

SETTINGS = web.AppKey("settings", LoadedSettings)
CLOCK = web.AppKey("clock", Clock)
NEW_ID: web.AppKey[Callable[[], str]] = web.AppKey("new_id")
METRICS = web.AppKey("metrics", Metrics)
REDACTOR = web.AppKey("redactor", Redactor)
ENGINE = web.AppKey("engine", AsyncEngine)
WRITER = web.AppKey("writer", BackgroundWriter)
ROUTES = web.AppKey("routes", RouteTable)
STARTED_AT = web.AppKey("started_at", float)
LISTENERS = web.AppKey("listeners", list[str])
STOPPING = web.AppKey("stopping", asyncio.Event)
"""Set when the daemon starts shutting down: a cancelled handler is then not a client's."""
HANDLING = web.AppKey("handling", set)
"""The tasks running a request now: the shutdown lets them log their ending before the
writer's last flush (set[asyncio.Task[Any]])."""
GATEWAY = web.AppKey("gateway", Gateway)
KEYRING = web.AppKey("keyring", KeyRing)
EVENTS = web.AppKey("events", EventBus)
VAULT = web.AppKey("vault", Vault)
TSDB = web.AppKey("tsdb", Tsdb)
TSDB_STORE = web.AppKey("tsdb_store", TsdbStore)
TRACING = web.AppKey("tracing", Tracing)
