"""Anthropic ``message`` answers to and from the canonical :class:`ChatResponse`.

What maps: ``text`` and ``tool_use`` blocks; ``thinking`` blocks, signature kept, and
``redacted_thinking`` blocks, as :class:`ThinkingPart`; usage with cache reads, cache
writes and ``output_tokens_details.thinking_tokens``. What the canonical form does not
model is named in ``ChatResponse.unmapped`` (reported whenever the answer is rendered
anew): ``citations`` on text, server-tool blocks (``server_tool_use``,
``web_search_tool_result`` and the like), ``container``, ``stop_details``, a
``pause_turn`` stop and the ``server_tool_use`` usage counts. Envelope fields that say how
the answer was served rather than what it says (``usage.service_tier``,
``inference_geo``, ``speed``, ``cache_creation``'s split by lifetime) are not carried.

Rendering for an Anthropic client, reasoning from an OpenAI-format server becomes a
``thinking`` block with an empty ``signature`` (the SDKs require the field): such a block
cannot be sent back to Anthropic, and tokenhub leaves unsigned thinking out of requests
to Anthropic models.
"""

from __future__ import annotations

from typing import Any

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.wire._common import dumps, loads_object
from tokenhub.providers.wire.anthropic_stream import (
    CITATIONS,
    STOP_REASONS,
    block_note,
    envelope_notes,
    parse_usage,
    render_usage,
    stop_reason,
)
from tokenhub.types import (
    ChatResponse,
    ContentPart,
    FieldNote,
    Message,
    TextPart,
    ThinkingPart,
    ToolCall,
)

__all__ = ["parse_response", "render_response"]


def parse_response(body: dict[str, Any]) -> ChatResponse:
    """Read an upstream ``message``; a malformed one is a transient provider error."""
    try:
        return _parse_response(body)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        msg = f"malformed message from upstream: {exc!r}"
        raise ProviderError(ErrorKind.TRANSIENT, msg) from exc


def _parse_response(body: dict[str, Any]) -> ChatResponse:
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    unmapped: list[FieldNote] = []
    for index, block in enumerate(body["content"]):
        _parse_block(block, f"content[{index}]", parts, calls, unmapped)
    finish = STOP_REASONS.get(body.get("stop_reason"), "stop")
    usage = body.get("usage") or {}
    unmapped.extend(envelope_notes(body, usage))
    return ChatResponse(
        id=body["id"],
        model=body["model"],
        message=Message("assistant", parts, tool_calls=calls),
        finish_reason=finish,
        usage=parse_usage(usage),
        stop_sequence=body.get("stop_sequence") if finish == "stop" else None,
        unmapped=unmapped,
    )


def _parse_block(
    block: dict[str, Any],
    path: str,
    parts: list[ContentPart],
    calls: list[ToolCall],
    unmapped: list[FieldNote],
) -> None:
    kind = block["type"]
    if kind == "text":
        parts.append(TextPart(block["text"]))
        if block.get("citations"):
            unmapped.append(FieldNote(f"{path}.citations", CITATIONS))
    elif kind == "tool_use":
        calls.append(ToolCall(block["id"], block["name"], dumps(block["input"])))
    elif kind == "thinking":
        parts.append(ThinkingPart(block["thinking"], signature=block.get("signature")))
    elif kind == "redacted_thinking":
        parts.append(ThinkingPart("", redacted=block["data"]))
    else:
        unmapped.append(block_note(path, kind))


def render_response(resp: ChatResponse, notes: list[FieldNote] | None = None) -> dict[str, Any]:
    """Build a complete ``message`` object for an Anthropic client.

    What the upstream answered and this cannot carry is added to ``notes``.
    """
    if notes is not None:
        notes.extend(resp.unmapped)
    content = [
        _render_part(p) for p in resp.message.content if isinstance(p, TextPart | ThinkingPart)
    ]
    content.extend(_response_tool_use(c) for c in resp.message.tool_calls)
    reason = stop_reason(resp.finish_reason, resp.stop_sequence)
    return {
        "id": resp.id,
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "stop_reason": reason,
        "stop_sequence": resp.stop_sequence if reason == "stop_sequence" else None,
        "usage": render_usage(resp.usage),
    }


def _render_part(part: TextPart | ThinkingPart) -> dict[str, Any]:
    if isinstance(part, ThinkingPart):
        return thinking_block(part)
    return {"type": "text", "text": part.text}


def thinking_block(part: ThinkingPart) -> dict[str, Any]:
    """A ``thinking`` block (unsigned: ``signature`` empty) or a ``redacted_thinking`` one."""
    if part.redacted is not None:
        return {"type": "redacted_thinking", "data": part.redacted}
    return {"type": "thinking", "thinking": part.text, "signature": part.signature or ""}


def _response_tool_use(call: ToolCall) -> dict[str, Any]:
    arguments = loads_object(call.arguments)
    if arguments is None:
        msg = "upstream tool call arguments are not a JSON object"
        raise ProviderError(ErrorKind.TRANSIENT, msg)
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}
