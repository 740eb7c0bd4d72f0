"""Canonical answers as OpenAI Responses API ``response`` objects.

A canonical message becomes ``output`` items in the order the Responses API gives them:
one ``reasoning`` item per thinking part (its text as a ``summary_text``, its seal as
``encrypted_content``), one assistant ``message`` with an ``output_text`` part per text
part (``annotations`` empty: no canonical answer carries any), then a ``function_call``
item per tool call. ``finish_reason`` ``length`` is status ``incomplete`` with reason
``max_output_tokens``; ``content_filter`` is ``incomplete`` with reason
``content_filter``. The response repeats the request's parameters, as OpenAI's does.
Item ids derive from the response id, so one answer always renders the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tokenhub.providers.wire.responses_input import thinking_payload
from tokenhub.providers.wire.responses_request import parse_request
from tokenhub.types import (
    ChatResponse,
    FieldNote,
    FinishReason,
    Message,
    TextPart,
    ThinkingPart,
    ToolCall,
    Usage,
)

__all__ = [
    "Shell",
    "parse_request",
    "render_error",
    "render_response",
    "render_usage",
]

_INCOMPLETE: dict[FinishReason, str] = {
    "length": "max_output_tokens",
    "content_filter": "content_filter",
}
_ERROR_CODES = {"rate_limited": "rate_limit_exceeded", "invalid_request": "invalid_prompt"}


@dataclass(frozen=True, slots=True)
class Shell:
    """What every rendering of one response shares: its id, time, model and request echo."""

    id: str
    created_at: int
    model: str
    echo: dict[str, Any]
    """The request's parameters as the response object repeats them (see ``echo_of``)."""

    def item_id(self, prefix: str, index: int) -> str:
        """The id of output item ``index``: ``msg_…``, ``rs_…`` or ``fc_…``."""
        return f"{prefix}_{self.id.removeprefix('resp_')}_{index}"

    def response(
        self,
        status: str,
        output: list[dict[str, Any]],
        usage: Usage | None = None,
        *,
        incomplete: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The ``response`` object in ``status``, with ``output`` and (when done) usage."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": error,
            "incomplete_details": None if incomplete is None else {"reason": incomplete},
            "model": self.model,
            "output": output,
            **self.echo,
            "usage": None if usage is None else render_usage(usage),
        }


def echo_of(body: dict[str, Any]) -> dict[str, Any]:
    """The request parameters a response object repeats, with OpenAI's defaults."""
    reasoning = body.get("reasoning") or {}
    text = body.get("text") or {}
    return {
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "store": body.get("store") is not False,
        "temperature": body.get("temperature"),
        "text": {"format": text.get("format") or {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p"),
        "truncation": body.get("truncation") or "disabled",
        "user": body.get("user"),
    }


def render_response(
    response: ChatResponse, shell: Shell, notes: list[FieldNote] | None = None
) -> dict[str, Any]:
    """The complete ``response`` object for a canonical answer.

    What the upstream answered and the canonical form did not model is added to ``notes``;
    thinking keeps its seal here, so nothing else is lost.
    """
    if notes is not None:
        notes.extend(response.unmapped)
    status, incomplete = status_of(response.finish_reason)
    output = output_items(response.message, shell, status)
    return shell.response(status, output, response.usage, incomplete=incomplete)


def output_items(message: Message, shell: Shell, status: str) -> list[dict[str, Any]]:
    """A canonical message's ``output`` items: reasoning, then the message, then calls."""
    items = [
        reasoning_item(shell.item_id("rs", i), part.text, thinking_payload(part))
        for i, part in enumerate(p for p in message.content if isinstance(p, ThinkingPart))
    ]
    texts = [part.text for part in message.content if isinstance(part, TextPart)]
    if texts:
        message_id = shell.item_id("msg", len(items))
        items.append(message_item(message_id, [output_text(t) for t in texts], status))
    for call in message.tool_calls:
        items.append(call_item(shell.item_id("fc", len(items)), call, "completed"))
    return items


def reasoning_item(item_id: str, text: str, payload: str | None) -> dict[str, Any]:
    """A ``reasoning`` item; its text as the summary, its seal as ``encrypted_content``."""
    item: dict[str, Any] = {
        "id": item_id,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": text}] if text else [],
    }
    if payload is not None:
        item["encrypted_content"] = payload
    return item


def message_item(item_id: str, content: list[dict[str, Any]], status: str) -> dict[str, Any]:
    """An assistant ``message`` item."""
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def output_text(text: str) -> dict[str, Any]:
    """An ``output_text`` content part (no annotations: none come through the canonical form)."""
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def call_item(item_id: str, call: ToolCall, status: str) -> dict[str, Any]:
    """A ``function_call`` item."""
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call.id,
        "name": call.name,
        "arguments": call.arguments,
    }


def status_of(finish_reason: FinishReason) -> tuple[str, str | None]:
    """The response status for a finish reason, and the incomplete reason if any."""
    incomplete = _INCOMPLETE.get(finish_reason)
    return ("completed" if incomplete is None else "incomplete"), incomplete


def render_usage(usage: Usage) -> dict[str, Any]:
    """The Responses usage object; prompt-cache reads and writes are input token details."""
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def render_error(error_type: str, message: str) -> dict[str, Any]:
    """A failed response's ``error``: OpenAI's code, the message, tokenhub's type."""
    code = _ERROR_CODES.get(error_type, "server_error")
    return {"code": code, "message": message, "type": error_type}


_ITEM_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "reasoning": "rs",
}


def input_items(value: Any, shell: Shell) -> list[dict[str, Any]]:
    """A request's ``input`` as the items OpenAI lists for it: typed, each with an id.

    A string is one user message; an easy message (no ``type``) becomes a ``message``
    item with typed content parts. Items keep the ids they came with.
    """
    if value is None:
        return []
    raw = [{"role": "user", "content": value}] if isinstance(value, str) else value
    return [_input_item(item, shell, index) for index, item in enumerate(raw)]


def _input_item(item: dict[str, Any], shell: Shell, index: int) -> dict[str, Any]:
    kind = item.get("type", "message")
    out = {**item, "type": kind}
    if kind == "message" and isinstance(item.get("content"), str):
        part = "output_text" if item.get("role") == "assistant" else "input_text"
        out["content"] = [{"type": part, "text": item["content"]}]
    if "id" not in out:
        out["id"] = shell.item_id(_ITEM_PREFIXES.get(kind, "item") + "_in", index)
    return out
