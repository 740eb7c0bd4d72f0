"""Validate an incoming OpenAI Chat Completions request into a canonical ``ChatRequest``.

As strict as OpenAI for the fields tokenhub supports (messages, sampling, tools, formats,
``seed``, the penalties, ``reasoning_effort``, ``parallel_tool_calls``, ``service_tier``,
vLLM's ``top_k``); unknown top-level fields are left alone (an OpenAI-format upstream gets
the client's body whole; across formats ``wire.crossing`` notes them, and tokenhub reads
its own ``tokenhub`` extension elsewhere). ``developer`` messages become ``system``
messages and an assistant ``refusal`` part becomes text. An assistant turn's reasoning
comes back as ``ThinkingPart``s before its text: signed ones from ``thinking_blocks`` (the
Anthropic blocks OpenAI-format gateways relay), else unsigned ``reasoning_content``.
``input_audio`` and ``file`` parts, ``custom`` tools and a ``tool_choice`` naming one are
accepted and not modelled (``wire.foreign`` notes them across formats); ``allowed_tools``
is a ``ToolChoice`` with ``allowed`` names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from tokenhub.providers.wire._common import (
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
    split_data_url,
    stream_flag,
    type_error,
)
from tokenhub.types import (
    ChatRequest,
    ContentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

_ROLES = ("system", "developer", "user", "assistant", "tool")
_IMAGE_DETAILS = ("auto", "low", "high", "original")
_MODES: tuple[Literal["auto", "none", "required"], ...] = ("auto", "none", "required")
_ALLOWED_MODES: tuple[Literal["auto", "required"], ...] = ("auto", "required")
_CHOICE_TYPES = ("function", "allowed_tools", "custom")
_FORMATS: tuple[Literal["text", "json_object", "json_schema"], ...] = (
    "text",
    "json_object",
    "json_schema",
)
MAX_STOP = 4
_SEED_MIN = -(2**63)
_EXTRA_KEYS = frozenset(
    {"user", "seed", "presence_penalty", "frequency_penalty", "reasoning_effort",
     "parallel_tool_calls", "top_k", "service_tier"}
)  # fmt: skip
_TEXT = ("text",)
_FOREIGN_PARTS = ("input_audio", "file")
"""User content parts only OpenAI-format models read: accepted, not modelled."""
_USER_PARTS = ("text", "image_url", *_FOREIGN_PARTS)
_ASSISTANT_PARTS = ("text", "refusal")
_TOOL_TYPES = ("function", "custom")
_SIGNED_TYPES = ("thinking", "redacted_thinking")


def parse_request(body: dict[str, Any]) -> ChatRequest:
    """Validate an OpenAI request body; raise ``InvalidRequestError`` naming the bad field."""
    expect_dict(body, "body")
    model = expect_str(body.get("model"), "model", allow_empty=False)
    if optional_int(body, "n", "n", 1) not in (None, 1):
        fail("Invalid 'n': tokenhub supports only one choice (n=1).", "n")
    tools = _tools(body.get("tools"))
    has_tools = bool(body.get("tools"))
    return ChatRequest(
        model=model,
        messages=_messages(body.get("messages")),
        max_tokens=_max_tokens(body),
        temperature=optional_number(body, "temperature", "temperature", 2.0),
        top_p=optional_number(body, "top_p", "top_p", 1.0),
        stop=_stop(body.get("stop")),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), has_tools=has_tools),
        response_format=_response_format(body.get("response_format")),
        stream=stream_flag(body, "include_usage"),
        **_extras(body),
    )


def _extras(body: dict[str, Any]) -> dict[str, Any]:
    """The less common options, validated only when any is present (most requests: none)."""
    if body.keys().isdisjoint(_EXTRA_KEYS):
        return {}
    effort = body.get("reasoning_effort")
    return {
        "user": optional_str(body, "user", "user"),
        "seed": optional_int(body, "seed", "seed", _SEED_MIN),
        "presence_penalty": optional_number(
            body, "presence_penalty", "presence_penalty", 2.0, -2.0
        ),
        "frequency_penalty": optional_number(
            body, "frequency_penalty", "frequency_penalty", 2.0, -2.0
        ),
        # Passed on as given: the upstream knows which efforts its models accept.
        "reasoning_effort": None
        if effort is None
        else expect_str(effort, "reasoning_effort", allow_empty=False),
        "parallel_tool_calls": optional_bool(body, "parallel_tool_calls", "parallel_tool_calls"),
        "top_k": _top_k(body),  # a vLLM extension
        "service_tier": optional_str(body, "service_tier", "service_tier"),
    }


def _top_k(body: dict[str, Any]) -> int | None:
    """The ``top_k`` vLLM accepts: -1 or 0 turn it off (kept as ``None``)."""
    value = optional_int(body, "top_k", "top_k", -1)
    return value if value is not None and value > 0 else None


def include_usage(body: dict[str, Any]) -> bool:
    """Whether the client asked for the final usage chunk (``stream_options.include_usage``)."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _max_tokens(body: dict[str, Any]) -> int | None:
    newer = optional_int(body, "max_completion_tokens", "max_completion_tokens", 1)
    older = optional_int(body, "max_tokens", "max_tokens", 1)
    return newer if newer is not None else older


def _stop(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    stops = expect_list(value, "stop")
    if len(stops) > MAX_STOP:
        fail(f"Invalid 'stop': array too long. Expected at most {MAX_STOP} sequences.", "stop")
    return [expect_str(s, f"stop[{i}]") for i, s in enumerate(stops)]


def _messages(value: Any) -> list[Message]:
    raw = expect_list(value, "messages", allow_empty=False)
    messages = [_message(m, f"messages[{i}]") for i, m in enumerate(raw)]
    _check_tool_pairs(messages)
    return messages


def _message(raw: Any, path: str) -> Message:
    expect_dict(raw, path)
    role = expect_choice(raw.get("role"), f"{path}.role", _ROLES)
    return _PARSERS[role](raw, path)


def _system(raw: dict[str, Any], path: str) -> Message:
    content = _content(raw.get("content"), f"{path}.content", _TEXT)
    return Message("system", content, name=optional_str(raw, "name", f"{path}.name"))


def _user(raw: dict[str, Any], path: str) -> Message:
    content = _content(raw.get("content"), f"{path}.content", _USER_PARTS)
    return Message("user", content, name=optional_str(raw, "name", f"{path}.name"))


def _assistant(raw: dict[str, Any], path: str) -> Message:
    calls = _tool_calls(raw.get("tool_calls"), f"{path}.tool_calls")
    value = raw.get("content")
    if value is None and not calls:
        type_error(f"{path}.content", "a string or array (required without tool_calls)", value)
    content = [] if value is None else _content(value, f"{path}.content", _ASSISTANT_PARTS)
    name = optional_str(raw, "name", f"{path}.name")
    thinking = _reasoning(raw, path)
    return Message("assistant", thinking + content, tool_calls=calls, name=name)


def _reasoning(raw: dict[str, Any], path: str) -> list[ContentPart]:
    """The reasoning an assistant turn carries back, which goes before its text.

    ``thinking_blocks`` (the signed Anthropic blocks some OpenAI-format gateways relay)
    win over ``reasoning_content`` (the plain text vLLM and others return).
    """
    blocks = raw.get("thinking_blocks")
    if blocks is not None:
        where = f"{path}.thinking_blocks"
        listed = enumerate(expect_list(blocks, where))
        return [_thinking_block(block, f"{where}[{k}]") for k, block in listed]
    text = optional_str(raw, "reasoning_content", f"{path}.reasoning_content")
    return [ThinkingPart(text)] if text else []


def _thinking_block(raw: Any, path: str) -> ThinkingPart:
    block = expect_dict(raw, path)
    kind = expect_choice(block.get("type"), f"{path}.type", _SIGNED_TYPES)
    if kind == "redacted_thinking":
        data = expect_str(block.get("data"), f"{path}.data", allow_empty=False)
        return ThinkingPart("", redacted=data)
    text = expect_str(block.get("thinking"), f"{path}.thinking")
    signature = expect_str(block.get("signature"), f"{path}.signature", allow_empty=False)
    return ThinkingPart(text, signature=signature)


def _tool(raw: dict[str, Any], path: str) -> Message:
    call_id = expect_str(raw.get("tool_call_id"), f"{path}.tool_call_id")
    content = _content(raw.get("content"), f"{path}.content", _TEXT)
    return Message("tool", content, tool_call_id=call_id)


_PARSERS: dict[str, Callable[[dict[str, Any], str], Message]] = {
    "system": _system,
    "developer": _system,
    "user": _user,
    "assistant": _assistant,
    "tool": _tool,
}


def _content(value: Any, path: str, allowed: tuple[str, ...]) -> list[ContentPart]:
    if isinstance(value, str):
        return [TextPart(value)] if value else []
    if not isinstance(value, list):
        type_error(path, "one of a string or array of objects", value)
    expect_list(value, path, allow_empty=False)
    parts = (_part(p, f"{path}[{j}]", allowed) for j, p in enumerate(value))
    return [part for part in parts if part is not None]


def _part(raw: Any, path: str, allowed: tuple[str, ...]) -> ContentPart | None:
    """A content part; ``None`` for one the canonical form does not model (audio, files)."""
    expect_dict(raw, path)
    kind = expect_choice(raw.get("type"), f"{path}.type", allowed)
    if kind in _FOREIGN_PARTS:
        return None
    if kind == "image_url":
        return _image(raw.get("image_url"), f"{path}.image_url")
    return TextPart(expect_str(raw.get(kind), f"{path}.{kind}"))


def _image(value: Any, path: str) -> ImagePart:
    image = expect_dict(value, path)
    url = expect_str(image.get("url"), f"{path}.url")
    if not url.startswith(("https://", "http://")) and split_data_url(url) is None:
        fail(
            f"Invalid '{path}.url': expected an http(s) URL or a 'data:<type>;base64,' URL.",
            f"{path}.url",
        )
    detail = image.get("detail")
    if detail is not None:
        expect_choice(detail, f"{path}.detail", _IMAGE_DETAILS)
    return ImagePart(url, detail)


def _tool_calls(value: Any, path: str) -> list[ToolCall]:
    if value is None:
        return []
    raw = expect_list(value, path, allow_empty=False)
    return [_tool_call(c, f"{path}[{i}]") for i, c in enumerate(raw)]


def _tool_call(raw: Any, path: str) -> ToolCall:
    expect_dict(raw, path)
    expect_choice(raw.get("type"), f"{path}.type", ("function",))
    call_id = expect_str(raw.get("id"), f"{path}.id")
    function = expect_dict(raw.get("function"), f"{path}.function")
    name = expect_str(function.get("name"), f"{path}.function.name")
    arguments = expect_str(function.get("arguments"), f"{path}.function.arguments")
    return ToolCall(call_id, name, arguments)


def _check_tool_pairs(messages: list[Message]) -> None:
    """Each tool message answers the last assistant ``tool_calls``; each call is answered."""
    if not any(m.tool_calls or m.role == "tool" for m in messages):
        return  # the usual conversation: nothing to pair
    owner, expected, pending = -1, set[str](), set[str]()
    for i, message in enumerate(messages):
        if message.role == "tool":
            if owner < 0:
                fail(
                    "Messages with role 'tool' must be a response to a preceding message "
                    "with 'tool_calls'.",
                    f"messages[{i}].role",
                )
            if message.tool_call_id not in expected:
                fail(
                    f"Unknown tool_call_id {message.tool_call_id!r}.", f"messages[{i}].tool_call_id"
                )
            pending.discard(message.tool_call_id or "")
            continue
        _check_answered(owner, pending)
        owner = i if message.tool_calls else -1
        expected = {c.id for c in message.tool_calls}
        pending = set(expected)
    _check_answered(owner, pending)


def _check_answered(owner: int, pending: set[str]) -> None:
    if pending:
        ids = ", ".join(sorted(pending))
        fail(
            "An assistant message with 'tool_calls' must be followed by tool messages "
            f"responding to each 'tool_call_id'. Missing responses for: {ids}.",
            f"messages[{owner}].tool_calls",
        )


def _tools(value: Any) -> list[ToolSpec]:
    if value is None:
        return []
    specs = (_tool_spec(t, f"tools[{i}]") for i, t in enumerate(expect_list(value, "tools")))
    return [spec for spec in specs if spec is not None]


def _tool_spec(raw: Any, path: str) -> ToolSpec | None:
    """A function tool; ``None`` for a ``custom`` (free-form) one, which is not modelled."""
    expect_dict(raw, path)
    if expect_choice(raw.get("type"), f"{path}.type", _TOOL_TYPES) == "custom":
        return None
    function = expect_dict(raw.get("function"), f"{path}.function")
    name = expect_name(function.get("name"), f"{path}.function.name")
    description = optional_str(function, "description", f"{path}.function.description")
    parameters = function.get("parameters")
    if parameters is not None:
        expect_dict(parameters, f"{path}.function.parameters")
    strict = optional_bool(function, "strict", f"{path}.function.strict")
    return ToolSpec(name, description, parameters or {}, strict=strict)


def _tool_choice(value: Any, *, has_tools: bool) -> ToolChoice | None:
    if value is None:
        return None
    if not has_tools:
        fail(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
            "are specified.",
            "tool_choice",
        )
    if isinstance(value, str):
        return ToolChoice(expect_choice(value, "tool_choice", _MODES))
    expect_dict(value, "tool_choice")
    kind = expect_choice(value.get("type"), "tool_choice.type", _CHOICE_TYPES)
    if kind == "allowed_tools":
        return _allowed_tools(value.get("allowed_tools"))
    if kind == "custom":  # a free-form tool, not modelled: noted across formats
        return None
    function = expect_dict(value.get("function"), "tool_choice.function")
    return ToolChoice("tool", expect_str(function.get("name"), "tool_choice.function.name"))


def _allowed_tools(value: Any) -> ToolChoice:
    """``{"mode": "auto" | "required", "tools": [{"type": "function", "function": {name}}]}``."""
    spec = expect_dict(value, "tool_choice.allowed_tools")
    mode = expect_choice(spec.get("mode"), "tool_choice.allowed_tools.mode", _ALLOWED_MODES)
    names: list[str] = []
    for i, raw in enumerate(expect_list(spec.get("tools"), "tool_choice.allowed_tools.tools")):
        path = f"tool_choice.allowed_tools.tools[{i}]"
        tool = expect_dict(raw, path)
        if tool.get("type") == "function":
            function = expect_dict(tool.get("function"), f"{path}.function")
            names.append(expect_str(function.get("name"), f"{path}.function.name"))
    return ToolChoice(mode, allowed=names)


def _response_format(value: Any) -> ResponseFormat | None:
    if value is None:
        return None
    expect_dict(value, "response_format")
    kind = expect_choice(value.get("type"), "response_format.type", _FORMATS)
    if kind != "json_schema":
        return ResponseFormat(kind)
    spec = expect_dict(value.get("json_schema"), "response_format.json_schema")
    name = expect_name(spec.get("name"), "response_format.json_schema.name")
    schema = spec.get("schema")
    if schema is not None:
        expect_dict(schema, "response_format.json_schema.schema")
    strict = optional_bool(spec, "strict", "response_format.json_schema.strict")
    return ResponseFormat("json_schema", schema=schema, name=name, strict=strict)
