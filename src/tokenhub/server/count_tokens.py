"""``POST /v1/messages/count_tokens``: Anthropic's token count, answered by tokenhub.

The count is tokenhub's own estimate of the prompt — the one routing uses, which errs
high (characters / 3 plus per-message overhead) — not a provider's tokenizer: the model
named may be any provider's, or a routing target, and nothing here calls a provider.
"""

from __future__ import annotations

from aiohttp import web

from tokenhub.server.app_keys import GATEWAY
from tokenhub.server.consumer_auth import API_KEY, allowed_models
from tokenhub.server.errors import json_response
from tokenhub.server.request_input import NO_POLICY, read_json
from tokenhub.server.routes import RouteTable
from tokenhub.server.wire_flavours import ANTHROPIC

PLACEHOLDER_MAX_TOKENS = 1
"""count_tokens takes no ``max_tokens``; the Messages parser requires one."""


async def count_tokens(request: web.Request) -> web.Response:
    """``{"input_tokens": N}`` for a Messages request body (``max_tokens`` not needed)."""
    body = await read_json(request)
    body.setdefault("max_tokens", PLACEHOLDER_MAX_TOKENS)
    chat = ANTHROPIC.parse(body)
    # Resolving the route checks the model name and the key's allowed models, as a
    # message to it would be checked, and makes the estimate routing would use.
    route = request.app[GATEWAY].route_request(
        chat, NO_POLICY, allowed_models=allowed_models(request.get(API_KEY))
    )
    return json_response(200, {"input_tokens": route.input_tokens})


def add_routes(routes: RouteTable) -> None:
    """Declare the route."""
    routes.add("POST", "/v1/messages/count_tokens", count_tokens, tag="consumer", auth="apiKey")
