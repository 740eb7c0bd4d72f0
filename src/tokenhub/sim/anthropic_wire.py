"""The Anthropic Messages wire format: strict validation, messages, SSE events and errors."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import orjson

from tokenhub.sim.anthropic_request import parse_messages
from tokenhub.sim.anthropic_thinking import thinking_blocks
from tokenhub.sim.core import (
    BASE58,
    IdSource,
    Plan,
    RateSnapshot,
    Rendered,
    Reply,
    RequestInvalid,
    SimRequest,
    SseEvent,
    StreamAnswer,
    StreamCut,
    split_tokens,
)
from tokenhub.sim.scenario import ProviderSpec
from tokenhub.sim.thinking import signing_key

_JSON = {"content-type": "application/json"}
_SSE = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_MESSAGES = {
    429: "Number of requests has exceeded your per-minute rate limit",
    529: "Overloaded",
    503: "Service unavailable",
}
_RETRYABLE = frozenset({408, 409, 429})
_MODELS_CREATED_AT = "2025-01-01T00:00:00Z"


def rate_headers(limits: RateSnapshot, now: float) -> dict[str, str]:
    """Anthropic's ``anthropic-ratelimit-*`` headers; resets are RFC 3339 timestamps."""
    reset = datetime.fromtimestamp(now + limits.reset_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "anthropic-ratelimit-requests-limit": str(limits.requests_limit),
        "anthropic-ratelimit-requests-remaining": str(limits.requests_remaining),
        "anthropic-ratelimit-requests-reset": reset,
    }
    for family in ("tokens", "input-tokens", "output-tokens"):
        remaining = limits.tokens_limit if family == "output-tokens" else limits.tokens_remaining
        headers |= {
            f"anthropic-ratelimit-{family}-limit": str(limits.tokens_limit),
            f"anthropic-ratelimit-{family}-remaining": str(remaining),
            f"anthropic-ratelimit-{family}-reset": reset,
        }
    return headers


class AnthropicWire:
    """Renders answers exactly as the Anthropic Messages API sends them."""

    def __init__(self, spec: ProviderSpec, seed: int, clock: Callable[[], float]) -> None:
        self.spec = spec
        self._ids = IdSource(seed, spec.name)
        self._clock = clock
        self.thinking_key = signing_key(seed, spec.thinking_key)

    def check_headers(self, headers: Mapping[str, str]) -> Rendered | None:
        """Require the key (when configured) and ``anthropic-version``.

        The key may come as ``x-api-key`` or, as newer SDKs send it, ``Authorization: Bearer``.
        """
        key = self.spec.api_key
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        given = headers.get("x-api-key") or (bearer if scheme.lower() == "bearer" else "")
        if key is not None and not given:
            return self._error(401, "x-api-key header is required")
        if key is not None and given != key:
            return self._error(401, "invalid x-api-key")
        if "anthropic-version" not in headers:
            return self._error(400, "anthropic-version: header is required")
        return None

    def parse(self, body: Any, headers: Mapping[str, str]) -> SimRequest:
        """Validate a Messages body (``anthropic-beta`` may relax the thinking budget)."""
        return parse_messages(body, self.thinking_key, headers.get("anthropic-beta", ""))

    def invalid(self, error: RequestInvalid) -> Rendered:
        """Render a validation failure as a 400 invalid_request_error."""
        return self._error(400, error.message)

    def unknown_model(self, model: str) -> Rendered:
        """Render the 404 for a model this provider does not serve."""
        return self._error(404, f"model: {model}")

    def fault(self, plan: Plan) -> Rendered:
        """Render an injected or computed error answer."""
        fault = plan.fault
        assert fault is not None
        if fault.error_type == "context_length_exceeded":
            return self._error(400, self._context_message(plan), plan=plan)
        if fault.error_type == "max_tokens_too_large":
            cap, asked = plan.model.max_output_tokens, plan.request.max_tokens
            message = (
                f"max_tokens: {asked} > {cap}, which is the maximum allowed number of output "
                f"tokens for {plan.request.model}"
            )
            return self._error(400, message, plan=plan)
        message = fault.message or _MESSAGES.get(fault.status, "Internal server error")
        return self._error(
            fault.status, message, fault.error_type, plan=plan, retry_after=fault.retry_after
        )

    def reply(self, plan: Plan) -> Rendered:
        """Render a complete message object."""
        reply = plan.reply
        assert reply is not None
        body = self._message(plan) | {
            "content": self._blocks(plan),
            "stop_reason": _STOP_REASONS[reply.finish_reason],
        }
        body["usage"]["output_tokens"] = reply.output_tokens
        return self._send(200, body, self._headers(plan))

    def stream(self, plan: Plan) -> StreamAnswer:
        """Render the event sequence from message_start to message_stop."""
        reply = plan.reply
        assert reply is not None
        start = self._message(plan)
        start["usage"]["output_tokens"] = 1
        events = [_event("message_start", {"message": start})]
        for index, block in enumerate(self._blocks(plan)):
            events += self._block_events(index, block, reply)
            if index == 0:
                events.insert(2, _event("ping", {}))
        delta = {"stop_reason": _STOP_REASONS[reply.finish_reason], "stop_sequence": None}
        events.append(
            _event(
                "message_delta", {"delta": delta, "usage": {"output_tokens": reply.output_tokens}}
            )
        )
        events.append(_event("message_stop", {}))
        return StreamAnswer(self._headers(plan) | _SSE, events)

    def stream_error(self, cut: StreamCut) -> list[SseEvent]:
        """A failed Anthropic stream: an ``error`` event (``overloaded_error`` by default)."""
        kind = cut.error_type or "overloaded_error"
        status = next((s for s, name in _TYPES.items() if name == kind), 500)
        message = cut.message or _MESSAGES.get(status, "Internal server error")
        return [_event("error", {"error": {"type": kind, "message": message}})]

    def models(self, provider: ProviderSpec) -> Rendered:
        """Render ``GET /v1/models`` in Anthropic's paginated list format."""
        data = [
            {
                "type": "model",
                "id": m.id,
                "display_name": m.display_name or m.id,
                "created_at": _MODELS_CREATED_AT,
                "max_input_tokens": m.context_window,
                "max_tokens": m.max_output_tokens,
            }
            for m in provider.models
        ]
        body = {
            "data": data,
            "has_more": False,
            "first_id": data[0]["id"],
            "last_id": data[-1]["id"],
        }
        return self._send(200, body, self._headers())

    def _message(self, plan: Plan) -> dict[str, Any]:
        usage = {
            "input_tokens": plan.request.prompt_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": 0,
            "service_tier": "standard",
        }
        return {
            "id": f"msg_01{self._ids.token(22, BASE58)}",
            "type": "message",
            "role": "assistant",
            "model": plan.request.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        }

    def _blocks(self, plan: Plan) -> list[dict[str, Any]]:
        reply = plan.reply
        assert reply is not None
        blocks: list[dict[str, Any]] = []
        if plan.request.thinking_budget is not None:
            shown = not plan.request.thinking_omitted
            key = self.thinking_key
            blocks += thinking_blocks(reply, plan.model, key, self._nonce, shown=shown)
        if reply.text or not reply.tool_calls:
            blocks.append({"type": "text", "text": reply.text})
        blocks += [
            {
                "type": "tool_use",
                "id": f"toolu_01{self._ids.token(22, BASE58)}",
                "name": c.name,
                "input": dict(c.input),
            }
            for c in reply.tool_calls
        ]
        return blocks

    def _nonce(self) -> bytes:
        return self._ids.token(32).encode()

    def _block_events(self, index: int, block: dict[str, Any], reply: Reply) -> list[SseEvent]:
        kind = block["type"]
        if kind == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in reply.pieces]
        elif kind == "thinking":
            opening = {"type": "thinking", "thinking": "", "signature": ""}
            pieces = reply.reasoning if block["thinking"] else ()
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces]
        elif kind == "redacted_thinking":
            opening, deltas = block, []  # sent whole in its start event, as the real API does
        else:
            opening = block | {"input": {}}
            arguments = orjson.dumps(block["input"]).decode()
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in split_tokens(arguments)
            ]
        events = [
            _event("content_block_start", {"index": index, "content_block": opening}),
            *(
                _event("content_block_delta", {"index": index, "delta": d}, paced=True)
                for d in deltas
            ),
        ]
        if kind == "thinking":
            signature = {"type": "signature_delta", "signature": block["signature"]}
            events.append(_event("content_block_delta", {"index": index, "delta": signature}))
        events.append(_event("content_block_stop", {"index": index}))
        return events

    def _context_message(self, plan: Plan) -> str:
        window = plan.model.context_window
        prompt, asked = plan.request.prompt_tokens, plan.request.max_tokens or 0
        if prompt <= window < prompt + asked:
            return (
                "input length and `max_tokens` exceed context limit: "
                f"{prompt} + {asked} > {window}, "
                "decrease input length or `max_tokens` and try again"
            )
        return f"prompt is too long: {max(prompt, window + 1)} tokens > {window} maximum"

    def _headers(
        self, plan: Plan | None = None, retry_after: float | None = None
    ) -> dict[str, str]:
        headers = {"request-id": f"req_011C{self._ids.token(20, BASE58)}"}
        if plan is not None:
            headers |= rate_headers(plan.limits, self._clock())
        if retry_after is not None:
            headers["retry-after"] = str(math.ceil(retry_after))
        return headers

    def _error(
        self,
        status: int,
        message: str,
        kind: str | None = None,
        *,
        plan: Plan | None = None,
        retry_after: float | None = None,
    ) -> Rendered:
        headers = self._headers(plan, retry_after)
        headers["x-should-retry"] = (
            "true"
            if status in _RETRYABLE or status >= HTTPStatus.INTERNAL_SERVER_ERROR
            else "false"
        )
        server = status >= HTTPStatus.INTERNAL_SERVER_ERROR
        kind = kind or _TYPES.get(status, "api_error" if server else "invalid_request_error")
        body = {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": headers["request-id"],
        }
        return self._send(status, body, headers)

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> Rendered:
        return Rendered(status, headers | _JSON, orjson.dumps(body))


def _event(name: str, payload: dict[str, Any], *, paced: bool = False) -> SseEvent:
    data = orjson.dumps({"type": name, **payload})
    return SseEvent(b"event: " + name.encode() + b"\ndata: " + data + b"\n\n", paced)
