"""Stored responses: written by the background writer, read and deleted per key, pruned."""

from __future__ import annotations

import contextlib

import pytest

from tokenhub.config import WriterSettings
from tokenhub.observability.metrics import Metrics
from tokenhub.store.engine import create_engine
from tokenhub.store.migrate import upgrade
from tokenhub.store.response_store import (
    RESPONSES,
    StoredResponse,
    delete_response,
    load_response,
    prune_responses,
    row_of,
)
from tokenhub.store.writer import BackgroundWriter
from tokenhub.testing.postgres import temporary_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def engine(request, tmp_path):
    """A migrated engine, on SQLite and on PostgreSQL."""
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
        else:
            url = await stack.enter_async_context(temporary_database())
        engine = create_engine(url)
        stack.push_async_callback(engine.dispose)
        await upgrade(engine)
        yield engine


def stored(response_id: str, key_id: str | None, created_at: float = 100.0) -> StoredResponse:
    """A small stored response."""
    items = [{"id": "msg_in", "type": "message", "role": "user", "content": []}]
    return StoredResponse(response_id, key_id, created_at, None, items, {"id": response_id})


async def write(engine, *responses: StoredResponse) -> None:
    """Write ``responses`` through the background writer, as the server does."""
    writer = BackgroundWriter(engine, WriterSettings(), Metrics())
    for response in responses:
        writer.submit(RESPONSES, row_of(response))
    await writer.flush_all()


async def test_read_back_only_by_its_key(engine):
    """A response reads back whole for its own key (or keyless scope), for no other."""
    await write(engine, stored("resp_a", "k1"), stored("resp_b", None))
    assert await load_response(engine, "resp_a", "k1") == stored("resp_a", "k1")
    assert await load_response(engine, "resp_a", "k2") is None
    assert await load_response(engine, "resp_a", None) is None
    assert await load_response(engine, "resp_b", None) == stored("resp_b", None)
    assert await load_response(engine, "resp_b", "k1") is None


async def test_delete_is_scoped(engine):
    """Another key cannot delete a response; its owner can, once."""
    await write(engine, stored("resp_a", "k1"))
    assert not await delete_response(engine, "resp_a", "k2")
    assert await delete_response(engine, "resp_a", "k1")
    assert not await delete_response(engine, "resp_a", "k1")


async def test_prune_removes_only_old_rows(engine):
    """Pruning deletes responses created before the cut-off and keeps the rest."""
    await write(engine, stored("resp_old", None, 10.0), stored("resp_new", None, 500.0))
    assert await prune_responses(engine, 100.0) == 1
    assert await load_response(engine, "resp_old", None) is None
    assert await load_response(engine, "resp_new", None) is not None
