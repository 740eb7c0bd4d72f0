"""Validate an incoming Anthropic Messages request into a canonical ``ChatRequest``.

Rules follow what the current API enforces: ``max_tokens`` is required, text blocks and
turns are non-empty (a final assistant turn may be empty), every ``tool_use`` is answered
by a ``tool_result`` in the next message, and ``tool_result`` blocks lead their message.
Consecutive same-role turns are allowed (the API merges them) and so is a first turn
that is not ``user``. ``system`` may also appear as a message role (the current API's
``SystemMessageParam``). A user turn becomes one canonical ``tool`` message per
``tool_result`` followed by a ``user`` message with the remaining blocks. ``top_k`` is
validated and ignored; ``metadata.user_id`` becomes ``user``; ``output_config.format``
becomes a ``json_schema`` response format.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from tokenhub.providers.wire._common import (
    dumps,
    expect_choice,
    expect_dict,
    expect_list,
    expect_name,
    expect_str,
    fail,
    optional_bool,
    optional_int,
    optional_number,
    optional_str,
)
from tokenhub.types import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_ROLES = ("user", "assistant", "system")
_CACHE_TTLS = ("5m", "1h")
_MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_CHOICES: tuple[Literal["auto", "any", "tool", "none"], ...] = ("auto", "any", "tool", "none")
_CHOICE_MODES: dict[str, Literal["auto", "none", "required", "tool"]] = {
    "auto": "auto",
    "any": "required",
    "tool": "tool",
    "none": "none",
}


def parse_request(body: dict[str, Any]) -> ChatRequest:
    """Validate an Anthropic request body; raise ``InvalidRequestError`` naming the bad field."""
    expect_dict(body, "body")
    model = expect_str(body.get("model"), "model", allow_empty=False)
    if body.get("max_tokens") is None:
        fail("max_tokens: Field required", "max_tokens")
    optional_int(body, "top_k", "top_k", 0)
    tools = _tools(body.get("tools"))
    return ChatRequest(
        model=model,
        messages=_system(body.get("system")) + _messages(body.get("messages")),
        max_tokens=optional_int(body, "max_tokens", "max_tokens", 0),
        temperature=optional_number(body, "temperature", "temperature", 1.0),
        top_p=optional_number(body, "top_p", "top_p", 1.0),
        stop=_stop_sequences(body.get("stop_sequences")),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=_parallel_tool_calls(body.get("tool_choice")),
        response_format=_output_format(body.get("output_config")),
        stream=optional_bool(body, "stream", "stream") or False,
        user=_user_id(body.get("metadata")),
    )


def _system(value: Any) -> list[Message]:
    if value is None or value == "":
        return []
    parts = _text_blocks(value, "system")
    return [Message("system", parts)] if parts else []


def _text_blocks(value: Any, path: str) -> list[ContentPart]:
    if isinstance(value, str):
        return [TextPart(expect_str(value, path, allow_empty=False))]
    blocks = expect_list(value, path)
    return [_text_block(b, f"{path}[{i}]") for i, b in enumerate(blocks)]


def _text_block(raw: Any, path: str) -> TextPart:
    expect_dict(raw, path)
    expect_choice(raw.get("type"), f"{path}.type", ("text",))
    text = expect_str(raw.get("text"), f"{path}.text", allow_empty=False)
    return TextPart(text, cache_control=_cache_control(raw, path))


def _cache_control(block: dict[str, Any], path: str) -> dict[str, Any] | None:
    """A block's prompt-cache breakpoint: ``{"type": "ephemeral"}``, optionally a ``ttl``."""
    value = block.get("cache_control")
    if value is None:
        return None
    control = expect_dict(value, f"{path}.cache_control")
    expect_choice(control.get("type"), f"{path}.cache_control.type", ("ephemeral",))
    if control.get("ttl") is not None:
        expect_choice(control["ttl"], f"{path}.cache_control.ttl", _CACHE_TTLS)
    return {k: v for k, v in control.items() if k in ("type", "ttl") and v is not None}


def _messages(value: Any) -> list[Message]:
    raw = expect_list(value, "messages", allow_empty=False)
    out: list[Message] = []
    asked: set[str] = set()
    last = len(raw) - 1
    for i, item in enumerate(raw):
        path = f"messages[{i}]"
        message = expect_dict(item, path)
        role = expect_choice(message.get("role"), f"{path}.role", _ROLES)
        content = message.get("content")
        answered: set[str] = set()
        if role == "user":
            answered = _user_turn(content, path, asked, out)
        elif role == "system":
            out.append(Message("system", _text_blocks(content, f"{path}.content")))
        _check_answered(asked, answered, i - 1)
        asked = _assistant_turn(content, path, i == last, out) if role == "assistant" else set()
    return out


def _check_answered(asked: set[str], answered: set[str], owner: int) -> None:
    missing = asked - answered
    if missing:
        ids = ", ".join(sorted(missing))
        fail(
            f"`tool_use` ids were found without `tool_result` blocks immediately after: {ids}. "
            "Each `tool_use` block must have a corresponding `tool_result` block in the next "
            "message.",
            f"messages[{owner}]",
        )


def _blocks(content: Any, path: str, *, may_be_empty: bool) -> list[Any]:
    """Normalise string content to one text block; reject empty turns."""
    if isinstance(content, str):
        if not content and not may_be_empty:
            fail(f"{path}: all messages must have non-empty content.", path)
        return [{"type": "text", "text": content}] if content else []
    return expect_list(content, path, allow_empty=may_be_empty)


def _user_turn(content: Any, path: str, asked: set[str], out: list[Message]) -> set[str]:
    blocks = _blocks(content, f"{path}.content", may_be_empty=False)
    parts: list[ContentPart] = []
    answered: set[str] = set()
    for j, raw in enumerate(blocks):
        block_path = f"{path}.content[{j}]"
        block = expect_dict(raw, block_path)
        kind = expect_choice(
            block.get("type"), f"{block_path}.type", ("text", "image", "tool_result")
        )
        if kind != "tool_result":
            parts.append(_part(block, block_path))
            continue
        if parts:
            fail("tool_result blocks must come before any other content.", block_path)
        out.append(_tool_result(block, block_path, asked))
        answered.add(out[-1].tool_call_id or "")
    if parts:
        out.append(Message("user", parts))
    return answered


def _part(block: dict[str, Any], path: str) -> ContentPart:
    if block["type"] == "text":
        text = expect_str(block.get("text"), f"{path}.text", allow_empty=False)
        return TextPart(text, cache_control=_cache_control(block, path))
    source = expect_dict(block.get("source"), f"{path}.source")
    kind = expect_choice(source.get("type"), f"{path}.source.type", ("base64", "url"))
    if kind == "url":
        return ImagePart(expect_str(source.get("url"), f"{path}.source.url", allow_empty=False))
    media = expect_choice(source.get("media_type"), f"{path}.source.media_type", _MEDIA_TYPES)
    data = expect_str(source.get("data"), f"{path}.source.data", allow_empty=False)
    return ImagePart(f"data:{media};base64,{data}")


def _tool_result(block: dict[str, Any], path: str, asked: set[str]) -> Message:
    call_id = expect_str(block.get("tool_use_id"), f"{path}.tool_use_id")
    if call_id not in asked:
        fail(
            f"unexpected `tool_use_id` found in `tool_result` blocks: {call_id}. Each "
            "`tool_result` block must have a corresponding `tool_use` block in the previous "
            "message.",
            f"{path}.tool_use_id",
        )
    is_error = optional_bool(block, "is_error", f"{path}.is_error") or False
    content = block.get("content")
    parts: list[ContentPart] = []
    if content is not None:
        for k, raw in enumerate(_blocks(content, f"{path}.content", may_be_empty=True)):
            inner = f"{path}.content[{k}]"
            expect_dict(raw, inner)
            expect_choice(raw.get("type"), f"{inner}.type", ("text", "image"))
            parts.append(_part(raw, inner))
    return Message("tool", parts, tool_call_id=call_id, is_error=is_error)


def _assistant_turn(content: Any, path: str, is_last: bool, out: list[Message]) -> set[str]:
    blocks = _blocks(content, f"{path}.content", may_be_empty=is_last)
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    for j, raw in enumerate(blocks):
        block_path = f"{path}.content[{j}]"
        block = expect_dict(raw, block_path)
        kind = expect_choice(block.get("type"), f"{block_path}.type", ("text", "tool_use"))
        if kind == "text":
            parts.append(_part(block, block_path))
        else:
            calls.append(_tool_use(block, block_path))
    out.append(Message("assistant", parts, tool_calls=calls))
    return {c.id for c in calls}


def _tool_use(block: dict[str, Any], path: str) -> ToolCall:
    call_id = expect_str(block.get("id"), f"{path}.id", allow_empty=False)
    name = expect_str(block.get("name"), f"{path}.name", allow_empty=False)
    arguments = expect_dict(block.get("input"), f"{path}.input")
    return ToolCall(call_id, name, dumps(arguments))


def _stop_sequences(value: Any) -> list[str]:
    if value is None:
        return []
    raw = expect_list(value, "stop_sequences")
    return [expect_str(s, f"stop_sequences[{i}]") for i, s in enumerate(raw)]


def _tools(value: Any) -> list[ToolSpec]:
    if value is None:
        return []
    return [_tool(t, f"tools[{i}]") for i, t in enumerate(expect_list(value, "tools"))]


def _tool(raw: Any, path: str) -> ToolSpec:
    tool = expect_dict(raw, path)
    if tool.get("type") is not None:
        expect_choice(tool["type"], f"{path}.type", ("custom",))
    name = expect_name(tool.get("name"), f"{path}.name", _TOOL_NAME)
    description = optional_str(tool, "description", f"{path}.description")
    schema = expect_dict(tool.get("input_schema"), f"{path}.input_schema")
    expect_choice(schema.get("type"), f"{path}.input_schema.type", ("object",))
    return ToolSpec(name, description, schema, _cache_control(tool, path))


def _tool_choice(value: Any) -> ToolChoice | None:
    if value is None:
        return None
    choice = expect_dict(value, "tool_choice")
    kind = expect_choice(choice.get("type"), "tool_choice.type", _CHOICES)
    optional_bool(choice, "disable_parallel_tool_use", "tool_choice.disable_parallel_tool_use")
    if kind != "tool":
        return ToolChoice(_CHOICE_MODES[kind])
    return ToolChoice("tool", expect_str(choice.get("name"), "tool_choice.name", allow_empty=False))


def _parallel_tool_calls(value: Any) -> bool | None:
    """``disable_parallel_tool_use: true`` is OpenAI's ``parallel_tool_calls: false``."""
    if not isinstance(value, dict) or value.get("disable_parallel_tool_use") is not True:
        return None
    return False


def _user_id(value: Any) -> str | None:
    if value is None:
        return None
    return optional_str(expect_dict(value, "metadata"), "user_id", "metadata.user_id")


def _output_format(value: Any) -> ResponseFormat | None:
    if value is None:
        return None
    fmt = expect_dict(value, "output_config").get("format")
    if fmt is None:
        return None
    expect_dict(fmt, "output_config.format")
    expect_choice(fmt.get("type"), "output_config.format.type", ("json_schema",))
    schema = expect_dict(fmt.get("schema"), "output_config.format.schema")
    return ResponseFormat("json_schema", schema=schema)
