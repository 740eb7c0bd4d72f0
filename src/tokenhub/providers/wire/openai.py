"""OpenAI Chat Completions wire format (also spoken by vLLM) to and from canonical types.

Lossy spots, by design: a ``developer`` message is rendered back as ``system``; a
``refusal`` becomes assistant text; ``detail``-less images stay detail-less; several text
parts of a response message are joined (a ``chat.completion`` message has one string);
tool-result ``is_error`` has no OpenAI field and is dropped;
``max_tokens`` 0 (Anthropic's cache warming) is sent as 1, OpenAI's minimum.
A tool result carrying images (possible from Anthropic) cannot be a ``tool`` message
part, so its images follow in a ``user`` message after the run of tool messages.
Answers (reasoning, what is noted): see :mod:`tokenhub.providers.wire.openai_response`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenhub.providers.wire.openai_request import include_usage, parse_request
from tokenhub.providers.wire.openai_response import (
    parse_response,
    render_response,
    render_tool_call,
)
from tokenhub.providers.wire.openai_stream import (
    StreamDecoder,
    StreamEncoder,
)
from tokenhub.types import (
    ChatRequest,
    ContentPart,
    FieldNote,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    ToolChoice,
    ToolSpec,
)

__all__ = [
    "StreamDecoder",
    "StreamEncoder",
    "include_usage",
    "parse_request",
    "parse_response",
    "render_error",
    "render_request",
    "render_response",
]


def render_request(
    req: ChatRequest,
    upstream_model: str,
    *,
    notes: list[FieldNote] | None = None,  # noqa: ARG001 - every field has a counterpart so far
) -> dict[str, Any]:
    """Build the body for an OpenAI-compatible upstream; streams always ask for usage.

    What the format cannot carry is added to ``notes``.
    """
    body: dict[str, Any] = {"model": upstream_model, "messages": _render_messages(req.messages)}
    if req.max_tokens is not None:
        # OpenAI's minimum is 1; Anthropic allows 0 (prompt-cache warming only).
        body["max_completion_tokens"] = max(req.max_tokens, 1)
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.stop:
        body["stop"] = list(req.stop)
    if req.tools:
        body["tools"] = [_render_tool(t) for t in req.tools]
    if req.tool_choice is not None:
        body["tool_choice"] = _render_tool_choice(req.tool_choice)
    if req.response_format is not None:
        body["response_format"] = _render_response_format(req.response_format)
    if req.user is not None:
        body["user"] = req.user
    _render_extras(req, body)
    if req.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


def _render_extras(req: ChatRequest, body: dict[str, Any]) -> None:
    extras = {
        "seed": req.seed,
        "presence_penalty": req.presence_penalty,
        "frequency_penalty": req.frequency_penalty,
        "reasoning_effort": req.reasoning_effort,
    }
    body.update({key: value for key, value in extras.items() if value is not None})
    if req.parallel_tool_calls is not None and req.tools:  # OpenAI refuses it without tools
        body["parallel_tool_calls"] = req.parallel_tool_calls


def _render_messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    held_images: list[ContentPart] = []
    for message in messages:
        if message.role != "tool" and held_images:
            out.append({"role": "user", "content": _render_content(held_images)})
            held_images = []
        if message.role == "tool":
            held_images.extend(p for p in message.content if isinstance(p, ImagePart))
        out.append(_render_message(message))
    if held_images:
        out.append({"role": "user", "content": _render_content(held_images)})
    return out


def _render_message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        texts = [p for p in message.content if isinstance(p, TextPart)]
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _render_content(texts),
        }
    out: dict[str, Any] = {"role": message.role, "content": _render_content(message.content)}
    if message.tool_calls:
        out["tool_calls"] = [render_tool_call(c) for c in message.tool_calls]
        if not message.content:
            out["content"] = None
    if message.name is not None:
        out["name"] = message.name
    return out


def _render_content(parts: Sequence[ContentPart]) -> str | list[dict[str, Any]]:
    """One non-empty text part is sent as a plain string; anything else as parts."""
    return _render_plain([p for p in parts if not isinstance(p, ThinkingPart)])


def _render_plain(parts: Sequence[TextPart | ImagePart]) -> str | list[dict[str, Any]]:
    if not parts:
        return ""
    if len(parts) == 1 and isinstance(only := parts[0], TextPart) and only.text:
        return only.text
    return [_render_part(p) for p in parts]


def _render_part(part: TextPart | ImagePart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    image: dict[str, Any] = {"url": part.url}
    if part.detail is not None:
        image["detail"] = part.detail
    return {"type": "image_url", "image_url": image}


def _render_tool(tool: ToolSpec) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters:
        function["parameters"] = tool.parameters
    return {"type": "function", "function": function}


def _render_tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    if choice.mode == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.mode


def _render_response_format(fmt: ResponseFormat) -> dict[str, Any]:
    if fmt.type != "json_schema":
        return {"type": fmt.type}
    spec: dict[str, Any] = {"name": fmt.name or "response"}
    if fmt.schema is not None:
        spec["schema"] = fmt.schema
    if fmt.strict is not None:
        spec["strict"] = fmt.strict
    return {"type": "json_schema", "json_schema": spec}


def render_error(
    error_type: str, message: str, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """Build OpenAI's error body ``{"error": {message, type, param, code}}``."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}
