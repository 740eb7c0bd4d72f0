"""Validate an incoming Anthropic Messages request into a canonical ``ChatRequest``.

Rules follow what the current API enforces: ``max_tokens`` is required, text blocks and
turns are non-empty (a final assistant turn may be empty), every ``tool_use`` is answered
by a ``tool_result`` in the next message, and ``tool_result`` blocks lead their message.
Consecutive same-role turns are allowed (the API merges them) and so is a first turn
that is not ``user``. ``system`` may also appear as a message role (the current API's
``SystemMessageParam``). A user turn becomes one canonical ``tool`` message per
``tool_result`` followed by a ``user`` message with the remaining blocks.
``metadata.user_id`` becomes ``user``; ``output_config.format`` (or its beta name
``output_format``) a ``json_schema`` response format; ``output_config.effort`` the
``reasoning_effort``; ``thinking`` and ``top_k`` their canonical fields; assistant
``thinking`` and ``redacted_thinking`` blocks ``ThinkingPart``s, in place.

Blocks and tools the canonical form does not model (``document``, ``search_result``,
server tools and their blocks, ``mcp_tool_use``, ``container_upload``, images from the
Files API...) are accepted and left out: an Anthropic upstream gets the client's body
whole, and a translation notes them (``wire.foreign``).
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
from tokenhub.providers.wire.crossing import ANTHROPIC_EFFORTS, MIN_BUDGET
from tokenhub.providers.wire.foreign import SIGNED
from tokenhub.types import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Thinking,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,128}")
_ROLES = ("user", "assistant", "system")
_CACHE_TTLS = ("5m", "1h")
_THINKING_MODES: tuple[Literal["enabled", "adaptive", "disabled"], ...] = (
    "enabled",
    "adaptive",
    "disabled",
)
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
    tools = _tools(body.get("tools"))
    output = _output_config(body)
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
        response_format=_output_format(output.get("format"), body.get("output_format")),
        stream=optional_bool(body, "stream", "stream") or False,
        user=_user_id(body.get("metadata")),
        top_k=optional_int(body, "top_k", "top_k", 0),
        thinking=_thinking(body.get("thinking")),
        reasoning_effort=_effort(output.get("effort")),
        service_tier=_service_tier(body.get("service_tier")),
    )


def _output_config(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("output_config")
    return {} if value is None else expect_dict(value, "output_config")


def _thinking(value: Any) -> Thinking | None:
    """``{"type": "enabled", "budget_tokens": >= 1024}``, ``adaptive`` or ``disabled``."""
    if value is None:
        return None
    config = expect_dict(value, "thinking")
    mode = expect_choice(config.get("type"), "thinking.type", _THINKING_MODES)
    if mode != "enabled":
        return Thinking(mode)
    if config.get("budget_tokens") is None:
        fail("thinking.enabled.budget_tokens: Field required", "thinking.budget_tokens")
    budget = optional_int(config, "budget_tokens", "thinking.budget_tokens", MIN_BUDGET)
    return Thinking("enabled", budget)


def _effort(value: Any) -> str | None:
    """``output_config.effort`` in OpenAI's words (``max``, which OpenAI lacks, is ``high``)."""
    if value is None:
        return None
    effort = expect_str(value, "output_config.effort", allow_empty=False)
    return ANTHROPIC_EFFORTS.get(effort, effort)


def _service_tier(value: Any) -> str | None:
    if value is None:
        return None
    tier = expect_choice(value, "service_tier", ("auto", "standard_only"))
    return "default" if tier == "standard_only" else tier


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
    other = False
    for j, raw in enumerate(blocks):
        block_path = f"{path}.content[{j}]"
        block = expect_dict(raw, block_path)
        kind = expect_str(block.get("type"), f"{block_path}.type")
        if kind != "tool_result":
            other = True
            part = _part(block, block_path)
            if part is not None:
                parts.append(part)
            continue
        if other:
            fail("tool_result blocks must come before any other content.", block_path)
        out.append(_tool_result(block, block_path, asked))
        answered.add(out[-1].tool_call_id or "")
    if parts:
        out.append(Message("user", parts))
    return answered


def _part(block: dict[str, Any], path: str) -> ContentPart | None:
    """A text or image block; ``None`` for a block the canonical form does not model."""
    if block["type"] == "text":
        text = expect_str(block.get("text"), f"{path}.text", allow_empty=False)
        return TextPart(text, cache_control=_cache_control(block, path))
    if block["type"] != "image":
        return None
    source = expect_dict(block.get("source"), f"{path}.source")
    kind = expect_str(source.get("type"), f"{path}.source.type")
    if kind not in ("base64", "url"):
        return None  # a Files API image (file_id): only Anthropic can fetch it
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
            expect_str(raw.get("type"), f"{inner}.type")
            part = _part(raw, inner)
            if part is not None:
                parts.append(part)
    return Message("tool", parts, tool_call_id=call_id, is_error=is_error)


def _assistant_turn(content: Any, path: str, is_last: bool, out: list[Message]) -> set[str]:
    blocks = _blocks(content, f"{path}.content", may_be_empty=is_last)
    parts: list[ContentPart] = []
    calls: list[ToolCall] = []
    for j, raw in enumerate(blocks):
        block_path = f"{path}.content[{j}]"
        block = expect_dict(raw, block_path)
        kind = expect_str(block.get("type"), f"{block_path}.type")
        if kind == "tool_use":
            calls.append(_tool_use(block, block_path))
        elif kind in SIGNED:
            parts.append(_thinking_block(block, block_path))
        elif (part := _part(block, block_path)) is not None:
            parts.append(part)
    out.append(Message("assistant", parts, tool_calls=calls))
    return {c.id for c in calls}


def _thinking_block(block: dict[str, Any], path: str) -> ThinkingPart:
    """A signed ``thinking`` block or a ``redacted_thinking`` one, kept exactly."""
    if block["type"] == "redacted_thinking":
        return ThinkingPart("", redacted=expect_str(block.get("data"), f"{path}.data"))
    text = expect_str(block.get("thinking"), f"{path}.thinking")
    return ThinkingPart(text, signature=expect_str(block.get("signature"), f"{path}.signature"))


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
    tools = (_tool(t, f"tools[{i}]") for i, t in enumerate(expect_list(value, "tools")))
    return [tool for tool in tools if tool is not None]


def _tool(raw: Any, path: str) -> ToolSpec | None:
    """A client tool; ``None`` for a server tool (``web_search_20250305``...), run by Anthropic."""
    tool = expect_dict(raw, path)
    if tool.get("type") not in (None, "custom"):
        expect_str(tool["type"], f"{path}.type")
        return None
    name = expect_name(tool.get("name"), f"{path}.name", _TOOL_NAME)
    description = optional_str(tool, "description", f"{path}.description")
    schema = expect_dict(tool.get("input_schema"), f"{path}.input_schema")
    expect_choice(schema.get("type"), f"{path}.input_schema.type", ("object",))
    strict = optional_bool(tool, "strict", f"{path}.strict")
    return ToolSpec(name, description, schema, _cache_control(tool, path), strict=strict)


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


def _output_format(fmt: Any, beta: Any) -> ResponseFormat | None:
    """``output_config.format``, else the beta's top-level ``output_format``."""
    path = "output_config.format"
    if fmt is None:
        fmt, path = beta, "output_format"
    if fmt is None:
        return None
    expect_dict(fmt, path)
    expect_choice(fmt.get("type"), f"{path}.type", ("json_schema",))
    schema = expect_dict(fmt.get("schema"), f"{path}.schema")
    return ResponseFormat("json_schema", schema=schema, strict=True)  # Anthropic always holds to it
