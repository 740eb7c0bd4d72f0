"""Anthropic Messages wire format to and from canonical types.

Rendering a canonical request for Anthropic: every ``system`` message joins the
top-level ``system``; ``tool`` messages become ``tool_result`` blocks in a ``user`` turn;
assistant tool calls become ``tool_use`` blocks whose ``input`` is the parsed JSON
arguments; consecutive same-role turns are merged and empty turns or text dropped, as
the API requires. Lossy spots, by design: ``temperature`` above 1 is clamped to 1 (the
Anthropic range); message ``name`` and image ``detail`` have no Anthropic field;
``json_object`` has no Anthropic mode, so it becomes a system instruction
(:data:`JSON_OBJECT_INSTRUCTION`); a ``json_schema`` format keeps its schema in
``output_config.format`` but loses ``name`` and ``strict``; text and tool calls of one
assistant turn are ordered text first. Usage counts cache reads and writes as input.
Answers (thinking, what is noted): see :mod:`tokenhub.providers.wire.anthropic_response`.
"""

from __future__ import annotations

from typing import Any

from tokenhub.errors import InvalidRequestError
from tokenhub.providers.wire._common import loads_object, split_data_url
from tokenhub.providers.wire.anthropic_request import parse_request
from tokenhub.providers.wire.anthropic_response import parse_response, render_response
from tokenhub.providers.wire.anthropic_stream import (
    StreamDecoder,
    StreamEncoder,
)
from tokenhub.types import (
    ChatRequest,
    ContentPart,
    FieldNote,
    Message,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

__all__ = [
    "JSON_OBJECT_INSTRUCTION",
    "StreamDecoder",
    "StreamEncoder",
    "parse_request",
    "parse_response",
    "render_error",
    "render_request",
    "render_response",
]

JSON_OBJECT_INSTRUCTION = "Respond with a single valid JSON object and nothing else."
"""Appended to ``system`` for OpenAI's ``json_object`` mode, which Anthropic lacks."""

DEFAULT_MAX_TOKENS = 4096

_TOOL_CHOICES = {"auto": "auto", "required": "any", "none": "none"}


def render_request(
    req: ChatRequest,
    upstream_model: str,
    *,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
    notes: list[FieldNote] | None = None,  # noqa: ARG001 - every field has a counterpart so far
) -> dict[str, Any]:
    """Build the body for an Anthropic upstream; ``max_tokens`` falls back to the default.

    What the format cannot carry is added to ``notes``.
    """
    system, messages = _render_messages(req.messages)
    fmt = req.response_format
    if fmt is not None and fmt.type == "json_object":
        system.append({"type": "text", "text": JSON_OBJECT_INSTRUCTION})
    max_tokens = default_max_tokens if req.max_tokens is None else req.max_tokens
    body: dict[str, Any] = {"model": upstream_model, "max_tokens": max_tokens, "messages": messages}
    if system:
        body["system"] = system[0]["text"] if _plain_text(system) else system
    if fmt is not None and fmt.type == "json_schema" and fmt.schema is not None:
        body["output_config"] = {"format": {"type": "json_schema", "schema": fmt.schema}}
    _render_options(req, body)
    return body


def _render_options(req: ChatRequest, body: dict[str, Any]) -> None:
    if req.temperature is not None:
        body["temperature"] = min(req.temperature, 1.0)
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    if req.tools:
        body["tools"] = [_render_tool(t) for t in req.tools]
    if req.tool_choice is not None:
        body["tool_choice"] = _render_tool_choice(req.tool_choice)
    if req.parallel_tool_calls is False and req.tools:
        choice = body.setdefault("tool_choice", {"type": "auto"})
        if choice["type"] != "none":  # Anthropic accepts the flag on auto, any and tool
            choice["disable_parallel_tool_use"] = True
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    if req.stream:
        body["stream"] = True


def _render_messages(messages: list[Message]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            system.extend(_render_parts(message.content))
            continue
        role, blocks = _render_turn(message, index)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        content = turn["content"]
        if _plain_text(content):
            turn["content"] = content[0]["text"]
    return system, turns


def _render_turn(message: Message, index: int) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        return "user", [_render_tool_result(message)]
    blocks = _render_parts(message.content)
    for j, call in enumerate(message.tool_calls):
        blocks.append(_render_tool_use(call, index, j))
    return message.role, blocks


def _render_parts(parts: list[ContentPart]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, TextPart):
            if part.text:
                block: dict[str, Any] = {"type": "text", "text": part.text}
                if part.cache_control is not None:
                    block["cache_control"] = dict(part.cache_control)
                blocks.append(block)
            continue
        if isinstance(part, ThinkingPart):
            continue
        data_url = split_data_url(part.url)
        if data_url is None:
            source = {"type": "url", "url": part.url}
        else:
            source = {"type": "base64", "media_type": data_url[0], "data": data_url[1]}
        blocks.append({"type": "image", "source": source})
    return blocks


def _render_tool_result(message: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    content = _render_parts(message.content)
    if _plain_text(content):
        block["content"] = content[0]["text"]
    elif content:
        block["content"] = content
    if message.is_error:
        block["is_error"] = True
    return block


def _render_tool_use(call: ToolCall, index: int, j: int) -> dict[str, Any]:
    arguments = loads_object(call.arguments)
    if arguments is None:
        raise InvalidRequestError(
            "tool call arguments must be a JSON object to be sent to an Anthropic model",
            param=f"messages[{index}].tool_calls[{j}].function.arguments",
        )
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": arguments}


def _plain_text(blocks: list[dict[str, Any]]) -> bool:
    """One text block without a cache breakpoint: sent as a plain string."""
    return len(blocks) == 1 and blocks[0]["type"] == "text" and "cache_control" not in blocks[0]


def _render_tool(tool: ToolSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["input_schema"] = tool.parameters or {"type": "object", "properties": {}}
    if tool.cache_control is not None:
        out["cache_control"] = dict(tool.cache_control)
    return out


def _render_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    if choice.mode == "tool":
        return {"type": "tool", "name": choice.name}
    return {"type": _TOOL_CHOICES[choice.mode]}


def render_error(error_type: str, message: str) -> dict[str, Any]:
    """Build Anthropic's error body ``{"type": "error", "error": {type, message}}``."""
    return {"type": "error", "error": {"type": error_type, "message": message}}
