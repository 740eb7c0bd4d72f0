"""Validation of Anthropic Messages request bodies, with the real API's 400 wording."""

from __future__ import annotations

from typing import Any

import orjson

from tokenhub.sim.anthropic_thinking import (
    THINKING_TYPES,
    Found,
    check_replayed,
    check_tool_turn,
    thinking_budget,
)
from tokenhub.sim.core import MESSAGE_OVERHEAD_TOKENS, RequestInvalid, SimRequest, count_tokens

_SYSTEM_ROLE = (
    'messages: Unexpected role "system". The Messages API accepts a top-level `system` '
    'parameter, not "system" as an input message role.'
)


def parse_messages(body: Any, key: bytes, betas: str = "") -> SimRequest:
    """Validate a Messages body as strictly as the real API; raise RequestInvalid.

    ``key`` verifies replayed thinking blocks; ``betas`` is the ``anthropic-beta`` header.
    """
    if not isinstance(body, dict):
        raise RequestInvalid("There was an issue with the format or content of your request.")
    model = _field(body, "model", str, "a valid string")
    max_tokens = _field(body, "max_tokens", int, "a valid integer")
    if max_tokens < 1:
        raise RequestInvalid("max_tokens: Input should be greater than or equal to 1")
    messages = _field(body, "messages", list, "a valid list")
    if not messages:
        raise RequestInvalid("messages: at least one message is required")
    found: Found = []
    texts = [_message_text(i, m, found) for i, m in enumerate(messages)]
    if messages[0]["role"] != "user":
        raise RequestInvalid('messages: first message must use the "user" role')
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestInvalid("stream: Input should be a valid boolean")
    budget = thinking_budget(body, max_tokens, betas)
    if found:
        check_replayed(found, key)
    if budget is not None:
        check_tool_turn(messages)
    prompt = sum(map(count_tokens, texts)) + MESSAGE_OVERHEAD_TOKENS * len(messages)
    prompt += count_tokens(_system_text(body.get("system")))
    prompt += count_tokens(orjson.dumps(body["tools"]).decode()) if body.get("tools") else 0
    users = [t for m, t in zip(messages, texts, strict=True) if m["role"] == "user"]
    return SimRequest(
        model,
        users[-1],
        prompt,
        max_tokens,
        stream=stream,
        thinking_budget=budget,
        thinking_omitted=budget is not None and body["thinking"].get("display") == "omitted",
    )


def _field(body: dict[str, Any], name: str, kind: type, expected: str) -> Any:
    if name not in body:
        raise RequestInvalid(f"{name}: Field required")
    value = body[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RequestInvalid(f"{name}: Input should be {expected}")
    return value


def _message_text(index: int, message: Any, found: Found) -> str:
    if not isinstance(message, dict):
        raise RequestInvalid(f"messages.{index}: Input should be a valid dictionary")
    role = message.get("role")
    if role == "system":
        raise RequestInvalid(_SYSTEM_ROLE)
    if role not in ("user", "assistant"):
        raise RequestInvalid(f"messages.{index}.role: Input should be 'user' or 'assistant'")
    if "content" not in message:
        raise RequestInvalid(f"messages.{index}.content: Field required")
    return _blocks_text(message["content"], found, index)


def _blocks_text(content: Any, found: Found | None = None, index: int = 0) -> str:
    """The text of a content value; thinking blocks go to ``found`` (they count no tokens)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for position, block in enumerate(content):
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "tool_use":
            parts.append(block.get("name", "") + orjson.dumps(block.get("input", {})).decode())
        elif kind == "tool_result":
            parts.append(_blocks_text(block.get("content", "")))
        elif kind in THINKING_TYPES:
            if found is not None:
                found.append((index, position, block))
        else:
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _system_text(system: Any) -> str:
    if system is None or isinstance(system, str | list):
        return _blocks_text(system)
    raise RequestInvalid("system: Input should be a valid string")
