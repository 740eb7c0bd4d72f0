"""The Responses API's ``input`` (a string or a list of items) as canonical messages.

Items map to messages: ``message`` items by role (``developer`` and ``system`` become
``system``), and a run of assistant-side items — ``reasoning``, assistant ``message`` and
``function_call`` — becomes one assistant message (its thinking first, then its text and
tool calls), as the Chat and Messages formats hold a turn. ``function_call_output`` is a
``tool`` message. A ``reasoning`` item is a :class:`ThinkingPart`: its summary (or
reasoning text) is the thinking text and ``encrypted_content`` the opaque seal
(see :func:`thinking_payload`). Item types the canonical form cannot hold (built-in tool
calls, item references, files, audio) are refused, naming the item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenhub.providers.wire._common import (
    expect_choice,
    expect_dict,
    expect_list,
    expect_str,
    fail,
    optional_str,
    split_data_url,
)
from tokenhub.types import ContentPart, ImagePart, Message, TextPart, ThinkingPart, ToolCall

_ROLES = ("user", "assistant", "system", "developer")
_IMAGE_DETAILS = ("auto", "low", "high", "original")
_USER_PARTS = ("input_text", "input_image")
_ASSISTANT_PARTS = ("output_text", "refusal", "input_text")
_ITEMS = ("message", "function_call", "function_call_output", "reasoning")
_ASSISTANT_ITEMS = frozenset({"reasoning", "function_call"})
REDACTED_PREFIX = "redacted:"
"""Marks an ``encrypted_content`` that holds a redacted thinking block's data."""


def thinking_payload(part: ThinkingPart) -> str | None:
    """The ``encrypted_content`` a thinking part is rendered with (its seal), if any."""
    if part.redacted is not None:
        return REDACTED_PREFIX + part.redacted
    return part.signature


def parse_input(value: Any, history: Sequence[Any] = ()) -> list[Message]:
    """``input`` as messages after ``history`` (a stored conversation's items, oldest first).

    Raise ``InvalidRequestError`` naming the bad item.
    """
    messages: list[Message] = []
    for index, item in enumerate(history):
        _add_item(messages, item, f"previous_response_id.items[{index}]")
    if isinstance(value, str):
        messages.append(Message("user", [TextPart(value)]))
    elif value is not None or not history:
        items = expect_list(value, "input", allow_empty=bool(history))
        for index, item in enumerate(items):
            _add_item(messages, item, f"input[{index}]")
    _check_calls(messages)
    return messages


def _add_item(messages: list[Message], raw: Any, path: str) -> None:
    item = expect_dict(raw, path)
    kind = item.get("type", "message")  # an easy input message has no type
    if kind not in _ITEMS:
        shown = repr(kind)[:40]
        fail(
            f"Invalid '{path}.type': {shown} items are not supported by tokenhub (no provider"
            f" it routes to serves them). Supported item types: {', '.join(_ITEMS)}.",
            f"{path}.type",
        )
    if kind == "function_call_output":
        messages.append(_call_output(item, path))
    elif kind in _ASSISTANT_ITEMS or item.get("role") == "assistant":
        _add_assistant(messages, item, kind, path)
    else:
        messages.append(_message(item, path))


def _message(item: dict[str, Any], path: str) -> Message:
    role = expect_choice(item.get("role"), f"{path}.role", _ROLES)
    allowed = _USER_PARTS if role == "user" else ("input_text",)
    content = _content(item.get("content"), f"{path}.content", allowed)
    return Message("user" if role == "user" else "system", content)


def _add_assistant(messages: list[Message], item: dict[str, Any], kind: str, path: str) -> None:
    turn = _open_turn(messages, starts_thinking=kind == "reasoning")
    if kind == "reasoning":
        turn.content.append(_thinking(item, path))
    elif kind == "function_call":
        turn.tool_calls.append(_call(item, path))
    else:
        turn.content.extend(_content(item.get("content"), f"{path}.content", _ASSISTANT_PARTS))


def _open_turn(messages: list[Message], *, starts_thinking: bool) -> Message:
    """The assistant message the next item belongs to: the last one, unless it is done.

    A reasoning item after text or tool calls begins a new turn: thinking comes first.
    """
    last = messages[-1] if messages else None
    if last is not None and last.role == "assistant":
        said = last.tool_calls or any(not isinstance(p, ThinkingPart) for p in last.content)
        if not (starts_thinking and said):
            return last
    turn = Message("assistant")
    messages.append(turn)
    return turn


def _thinking(item: dict[str, Any], path: str) -> ThinkingPart:
    texts = [
        expect_str(expect_dict(part, f"{path}.{key}[{i}]").get("text"), f"{path}.{key}[{i}].text")
        for key in ("summary", "content")
        for i, part in enumerate(_optional_list(item, key, path))
    ]
    payload = optional_str(item, "encrypted_content", f"{path}.encrypted_content")
    text = "\n\n".join(texts)
    if payload is not None and payload.startswith(REDACTED_PREFIX):
        return ThinkingPart(text, redacted=payload.removeprefix(REDACTED_PREFIX))
    return ThinkingPart(text, signature=payload)


def _optional_list(item: dict[str, Any], key: str, path: str) -> list[Any]:
    value = item.get(key)
    return [] if value is None else expect_list(value, f"{path}.{key}")


def _call(item: dict[str, Any], path: str) -> ToolCall:
    call_id = expect_str(item.get("call_id"), f"{path}.call_id", allow_empty=False)
    name = expect_str(item.get("name"), f"{path}.name", allow_empty=False)
    arguments = expect_str(item.get("arguments"), f"{path}.arguments")
    return ToolCall(call_id, name, arguments)


def _call_output(item: dict[str, Any], path: str) -> Message:
    call_id = expect_str(item.get("call_id"), f"{path}.call_id", allow_empty=False)
    content = _content(item.get("output"), f"{path}.output", _USER_PARTS)
    return Message("tool", content, tool_call_id=call_id)


def _content(value: Any, path: str, allowed: tuple[str, ...]) -> list[ContentPart]:
    if isinstance(value, str):
        return [TextPart(value)] if value else []
    parts = expect_list(value, path)
    return [_part(part, f"{path}[{i}]", allowed) for i, part in enumerate(parts)]


def _part(raw: Any, path: str, allowed: tuple[str, ...]) -> ContentPart:
    part = expect_dict(raw, path)
    kind = expect_choice(part.get("type"), f"{path}.type", allowed)
    if kind == "input_image":
        return _image(part, path)
    key = "refusal" if kind == "refusal" else "text"
    return TextPart(expect_str(part.get(key), f"{path}.{key}"))


def _image(part: dict[str, Any], path: str) -> ImagePart:
    url = part.get("image_url")
    if url is None:
        fail(
            f"Invalid '{path}': images by 'file_id' are not supported by tokenhub (it has no"
            " files API); send 'image_url' (an http(s) or data URL).",
            f"{path}.file_id" if "file_id" in part else f"{path}.image_url",
        )
    url = expect_str(url, f"{path}.image_url")
    if not url.startswith(("https://", "http://")) and split_data_url(url) is None:
        fail(
            f"Invalid '{path}.image_url': expected an http(s) URL or a 'data:<type>;base64,' URL.",
            f"{path}.image_url",
        )
    detail = part.get("detail")
    if detail is not None:
        expect_choice(detail, f"{path}.detail", _IMAGE_DETAILS)
    return ImagePart(url, detail)


def _check_calls(messages: list[Message]) -> None:
    """Every function call output follows its call, and every call has its output."""
    called: set[str] = set()
    answered: set[str] = set()
    for message in messages:
        called.update(c.id for c in message.tool_calls)
        if message.role == "tool":
            call_id = message.tool_call_id or ""
            if call_id not in called:
                fail(
                    f"No tool call found for function call output with call_id {call_id}.",
                    "input",
                )
            answered.add(call_id)
    for call_id in sorted(called - answered):
        fail(f"No tool output found for function call {call_id}.", "input")
