"""Stored responses (``store: true``): keeping them, chaining turns, and their endpoints.

A response is kept with its own input items, scoped to the API key that created it (a
request without a key makes responses only keyless requests can read); another key gets
404, as for an id that never existed. Rows go through the background writer, queued
before the answer's last byte is sent; a read that misses flushes the writer and looks
again, so a follow-up sent the instant an answer ends finds it. Rows older than
``responses.retention_days`` are pruned with the request log.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tokenhub.errors import InvalidRequestError, NotFoundError
from tokenhub.server.app_keys import CLOCK, ENGINE, SETTINGS, WRITER
from tokenhub.server.consumer_auth import API_KEY
from tokenhub.server.errors import json_response
from tokenhub.server.routes import RouteTable
from tokenhub.store.response_store import (
    RESPONSES,
    StoredResponse,
    delete_response,
    load_response,
    prune_responses,
    row_of,
)

MAX_CHAIN = 1000
"""The most turns a ``previous_response_id`` chain is followed back (a loop guard)."""
_ORDERS = ("asc", "desc")
_MAX_PAGE = 100


def key_scope(request: web.Request) -> str | None:
    """Whose responses this request may read: its API key's id (None without a key)."""
    key = request.get(API_KEY)
    return None if key is None else key.id


def keep(app: web.Application, stored: StoredResponse) -> None:
    """Queue ``stored`` for the store (never waits on the disk)."""
    app[WRITER].submit(RESPONSES, row_of(stored))


async def fetch(app: web.Application, response_id: str, key_id: str | None) -> StoredResponse:
    """The stored response, or a 404 in OpenAI's words (also for another key's)."""
    engine = app[ENGINE]
    found = await load_response(engine, response_id, key_id)
    if found is None:
        await app[WRITER].flush_all()  # it may still be queued: read after write
        found = await load_response(engine, response_id, key_id)
    if found is None:
        raise NotFoundError(f"Response with id '{response_id[:80]}' not found.")
    return found


async def conversation(
    app: web.Application, previous_id: str, key_id: str | None
) -> list[dict[str, Any]]:
    """The items of the chain ending at ``previous_id``, oldest first.

    Each turn gives its input items, then its output; an unknown link is a 404.
    """
    turns: list[StoredResponse] = []
    link: str | None = previous_id
    while link is not None and len(turns) < MAX_CHAIN:
        try:
            turns.append(await fetch(app, link, key_id))
        except NotFoundError:
            raise NotFoundError(f"Previous response with id '{link[:80]}' not found.") from None
        link = turns[-1].previous_response_id
    items: list[dict[str, Any]] = []
    for turn in reversed(turns):
        items.extend(turn.input_items)
        items.extend(turn.response.get("output") or [])
    return items


async def retrieve_response(request: web.Request) -> web.Response:
    """A stored response (``client.responses.retrieve``), if this API key created it."""
    if request.query.get("stream") == "true":
        raise InvalidRequestError("streaming a stored response is not supported", param="stream")
    found = await fetch(request.app, request.match_info["id"], key_scope(request))
    return json_response(200, found.response)


async def delete_stored_response(request: web.Request) -> web.Response:
    """Delete a stored response (``client.responses.delete``), if this API key created it."""
    response_id = request.match_info["id"]
    key_id = key_scope(request)
    await fetch(request.app, response_id, key_id)  # a 404 unless it exists, flushed
    await delete_response(request.app[ENGINE], response_id, key_id)
    return json_response(200, {"id": response_id, "object": "response", "deleted": True})


async def list_input_items(request: web.Request) -> web.Response:
    """A stored response's input items, a cursor page (``client.responses.input_items.list``).

    ``order`` ``desc`` (default) or ``asc``; ``limit`` 1 to 100 (default 20); ``after``: the
    id of the item the page starts after.
    """
    found = await fetch(request.app, request.match_info["id"], key_scope(request))
    order = request.query.get("order", "desc")
    if order not in _ORDERS:
        raise InvalidRequestError("order must be 'asc' or 'desc'", param="order")
    items = found.input_items if order == "asc" else found.input_items[::-1]
    start = _start_after(items, request.query.get("after"))
    limit = _limit(request.query.get("limit", "20"))
    page = items[start : start + limit]
    return json_response(
        200,
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": start + limit < len(items),
        },
    )


def _start_after(items: list[dict[str, Any]], after: str | None) -> int:
    if after is None:
        return 0
    for index, item in enumerate(items):
        if item.get("id") == after:
            return index + 1
    raise InvalidRequestError(f"no input item with id '{after[:80]}'", param="after")


def _limit(value: str) -> int:
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= _MAX_PAGE:
        raise InvalidRequestError(f"limit must be an integer from 1 to {_MAX_PAGE}", param="limit")
    return limit


async def prune_stored_responses(app: web.Application) -> int:
    """Delete responses older than ``responses.retention_days``; return how many."""
    days = app[SETTINGS].settings.responses.retention_days
    return await prune_responses(app[ENGINE], app[CLOCK].time() - days * 86_400)


def add_routes(routes: RouteTable) -> None:
    """Declare the stored-response routes."""
    params = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    one = "/v1/responses/{id}"
    routes.add("GET", one, retrieve_response, tag="consumer", auth="apiKey", params=params)
    routes.add("DELETE", one, delete_stored_response, tag="consumer", auth="apiKey", params=params)
    routes.add(
        "GET",
        f"{one}/input_items",
        list_input_items,
        tag="consumer",
        auth="apiKey",
        params=params,
    )
