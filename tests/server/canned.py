"""A fake upstream on port 0 that answers each chat request with the next canned body.

For answers the simulator does not produce (server-tool blocks, citations, annotations):
each POST gets the next queued JSON body or SSE stream exactly as given, and the request
is recorded.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import orjson
from aiohttp import web


class CannedUpstream:
    """Queued answers, sent in order; ``received`` holds every request body."""

    def __init__(self) -> None:
        self._answers: deque[web.Response] = deque()
        self.received: list[dict[str, Any]] = []

    def app(self) -> web.Application:
        """The aiohttp app: any POST takes the next answer."""
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._answer)
        return app

    def enqueue_json(self, body: dict[str, Any]) -> None:
        """The next answer: ``body`` as a JSON response."""
        self._answers.append(web.Response(body=orjson.dumps(body), content_type="application/json"))

    def enqueue_sse(self, events: list[dict[str, Any]], *, named: bool) -> None:
        """The next answer: an SSE stream of ``events`` (``named``: Anthropic's event lines).

        An OpenAI-format stream ends with ``[DONE]``.
        """
        frames = [
            (b"event: " + e["type"].encode() + b"\n" if named else b"")
            + b"data: "
            + orjson.dumps(e)
            + b"\n\n"
            for e in events
        ]
        if not named:
            frames.append(b"data: [DONE]\n\n")
        self._answers.append(web.Response(body=b"".join(frames), content_type="text/event-stream"))

    async def _answer(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        if not self._answers:
            raise web.HTTPInternalServerError(text="no canned answer queued")
        return self._answers.popleft()
