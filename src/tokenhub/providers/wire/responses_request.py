"""Validate an OpenAI Responses API request (``POST /v1/responses``) into a ``ChatRequest``.

The canonical request stays the one routing model: ``input`` and ``instructions`` become
messages (responses_input.py), function ``tools``, ``tool_choice`` and ``text.format``
their canonical counterparts, ``reasoning.effort`` the ``reasoning_effort``. What the
request asks that no upstream format carries (``include`` entries other than
``reasoning.encrypted_content``, ``truncation: auto``, ``text.verbosity``,
``reasoning.summary``, unknown fields...) is listed in ``ChatRequest.notes``, so it is
reported in ``X-Tokenhub-Warnings`` (or refused, strict) like any field a translation
drops. Built-in tools and the stateful features tokenhub does not serve (``background``,
``conversation``, ``prompt``) are refused, naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    stream_flag,
)
from tokenhub.providers.wire.responses_input import parse_input
from tokenhub.types import (
    ChatRequest,
    FieldNote,
    Message,
    ResponseFormat,
    TextPart,
    ToolChoice,
    ToolSpec,
)

MIN_OUTPUT_TOKENS = 16
"""OpenAI's floor for ``max_output_tokens``."""
ENCRYPTED_REASONING = "reasoning.encrypted_content"
_MODES: tuple[Literal["auto", "none", "required"], ...] = ("auto", "none", "required")
_FORMATS = ("text", "json_object", "json_schema")
_TRUNCATIONS = ("auto", "disabled")
_ALLOWED_MODES: tuple[Literal["auto", "required"], ...] = ("auto", "required")
_CARRIED = frozenset(
    {"model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text",
     "reasoning", "max_output_tokens", "temperature", "top_p", "metadata", "user",
     "safety_identifier", "include", "truncation", "store", "previous_response_id", "stream",
     "stream_options", "tokenhub", "background", "conversation", "prompt"}
)  # fmt: skip
"""Fields read here (the rest are noted); ``tokenhub`` is read by the server."""
_NOT_CARRIED = {
    "max_tool_calls": "no upstream format limits the number of tool calls",
    "top_logprobs": "log probabilities are not carried across formats",
    "service_tier": "not carried to the routed provider",
    "prompt_cache_key": "OpenAI's prompt-cache routing hint; not carried",
    "prompt_cache_retention": "OpenAI's prompt-cache setting; not carried",
}
_UNSERVED = {
    "background": "background responses are not supported by tokenhub",
    "conversation": "the Conversations API is not served by tokenhub",
    "prompt": "stored prompt templates are not served by tokenhub",
}


def parse_request(body: dict[str, Any], history: Sequence[Any] = ()) -> ChatRequest:
    """Validate a Responses body; raise ``InvalidRequestError`` naming the bad field.

    ``history`` is the conversation ``previous_response_id`` names (its items, oldest
    first), which the input continues; without it ``input`` is required.
    """
    expect_dict(body, "body")
    _refuse_unserved(body)
    model = expect_str(body.get("model"), "model", allow_empty=False)
    if body.get("input") is None and not history:
        fail("Missing required parameter: 'input'.", "input")
    messages = parse_input(body.get("input"), history)
    instructions = optional_str(body, "instructions", "instructions")
    if instructions:
        messages.insert(0, Message("system", [TextPart(instructions)]))
    notes: list[FieldNote] = []
    tools = _tools(body.get("tools"))
    choice, tools = _tool_choice(body.get("tool_choice"), tools)
    text = _text(body.get("text"), notes)
    reasoning = _reasoning(body.get("reasoning"), notes)
    _metadata(body.get("metadata"))
    optional_bool(body, "store", "store")
    _note_options(body, notes)
    return ChatRequest(
        model=model,
        messages=messages,
        max_tokens=optional_int(body, "max_output_tokens", "max_output_tokens", MIN_OUTPUT_TOKENS),
        temperature=optional_number(body, "temperature", "temperature", 2.0),
        top_p=optional_number(body, "top_p", "top_p", 1.0),
        tools=tools,
        tool_choice=choice,
        response_format=text,
        # include_obfuscation pads events against side channels: nothing to carry.
        stream=stream_flag(body, "include_obfuscation"),
        user=optional_str(body, "user", "user")
        or optional_str(body, "safety_identifier", "safety_identifier"),
        reasoning_effort=reasoning,
        parallel_tool_calls=optional_bool(body, "parallel_tool_calls", "parallel_tool_calls"),
        notes=notes,
    )


def _refuse_unserved(body: dict[str, Any]) -> None:
    for name, reason in _UNSERVED.items():
        value = body.get(name)
        if value is not None and value is not False:
            fail(f"Invalid '{name}': {reason}.", name)


def _tools(value: Any) -> list[ToolSpec]:
    if value is None:
        return []
    return [_tool(t, f"tools[{i}]") for i, t in enumerate(expect_list(value, "tools"))]


def _tool(raw: Any, path: str) -> ToolSpec:
    tool = expect_dict(raw, path)
    kind = tool.get("type")
    if kind != "function":
        fail(
            f"Invalid '{path}.type': the built-in tool {str(kind)[:40]!r} is not served by any"
            " provider tokenhub routes to; only 'function' tools are supported.",
            f"{path}.type",
        )
    name = expect_name(tool.get("name"), f"{path}.name")
    description = optional_str(tool, "description", f"{path}.description")
    parameters = tool.get("parameters")
    if parameters is not None:
        expect_dict(parameters, f"{path}.parameters")
    optional_bool(tool, "strict", f"{path}.strict")
    return ToolSpec(name, description, parameters or {})


def _tool_choice(value: Any, tools: list[ToolSpec]) -> tuple[ToolChoice | None, list[ToolSpec]]:
    """The choice, and the tools the model may call (``allowed_tools`` narrows them)."""
    if value is None:
        return None, tools
    if isinstance(value, str):
        return ToolChoice(expect_choice(value, "tool_choice", _MODES)), tools
    choice = expect_dict(value, "tool_choice")
    kind = choice.get("type")
    if kind == "function":
        name = expect_str(choice.get("name"), "tool_choice.name", allow_empty=False)
        _known_tool(name, tools, "tool_choice.name")
        return ToolChoice("tool", name), tools
    if kind != "allowed_tools":
        fail(
            f"Invalid 'tool_choice.type': {str(kind)[:40]!r} names a built-in tool, which no"
            " provider tokenhub routes to serves; use 'function' or 'allowed_tools'.",
            "tool_choice.type",
        )
    return _allowed(choice, tools)


def _allowed(
    choice: dict[str, Any], tools: list[ToolSpec]
) -> tuple[ToolChoice | None, list[ToolSpec]]:
    mode = expect_choice(choice.get("mode"), "tool_choice.mode", _ALLOWED_MODES)
    names: set[str] = set()
    for i, raw in enumerate(expect_list(choice.get("tools"), "tool_choice.tools")):
        entry = expect_dict(raw, f"tool_choice.tools[{i}]")
        expect_choice(entry.get("type"), f"tool_choice.tools[{i}].type", ("function",))
        name = expect_str(entry.get("name"), f"tool_choice.tools[{i}].name")
        names.add(_known_tool(name, tools, f"tool_choice.tools[{i}].name"))
    # The model is offered only the allowed tools: what allowed_tools means, in any format.
    return ToolChoice(mode), [t for t in tools if t.name in names]


def _known_tool(name: str, tools: list[ToolSpec], param: str) -> str:
    if all(t.name != name for t in tools):
        fail(f"Invalid '{param}': no function named {name[:64]!r} in 'tools'.", param)
    return name


def _text(value: Any, notes: list[FieldNote]) -> ResponseFormat | None:
    if value is None:
        return None
    text = expect_dict(value, "text")
    if text.get("verbosity") is not None:
        expect_choice(text["verbosity"], "text.verbosity", ("low", "medium", "high"))
        notes.append(FieldNote("text.verbosity", "no upstream format carries it"))
    fmt = text.get("format")
    if fmt is None:
        return None
    expect_dict(fmt, "text.format")
    kind = expect_choice(fmt.get("type"), "text.format.type", _FORMATS)
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    name = expect_name(fmt.get("name"), "text.format.name")
    schema = expect_dict(fmt.get("schema"), "text.format.schema")
    optional_str(fmt, "description", "text.format.description")
    strict = optional_bool(fmt, "strict", "text.format.strict")
    return ResponseFormat("json_schema", schema=schema, name=name, strict=strict)


def _reasoning(value: Any, notes: list[FieldNote]) -> str | None:
    """``reasoning.effort`` as ``reasoning_effort`` (passed on as given)."""
    if value is None:
        return None
    reasoning = expect_dict(value, "reasoning")
    for key in ("summary", "generate_summary"):
        if reasoning.get(key) is not None:
            expect_choice(reasoning[key], f"reasoning.{key}", ("auto", "concise", "detailed"))
            notes.append(
                FieldNote(
                    f"reasoning.{key}",
                    "not carried; the model's own thinking, when it shows any, is the summary",
                )
            )
    effort = reasoning.get("effort")
    return None if effort is None else expect_str(effort, "reasoning.effort", allow_empty=False)


def _metadata(value: Any) -> None:
    """Metadata is the client's own (echoed in the response, never sent upstream)."""
    if value is None:
        return
    for key, item in expect_dict(value, "metadata").items():
        expect_str(item, f"metadata.{key}")


def _note_options(body: dict[str, Any], notes: list[FieldNote]) -> None:
    """Note what is accepted but not carried: options, include entries, unknown fields."""
    for key, value in body.items():
        if value is None:
            continue
        if key in _NOT_CARRIED:
            notes.append(FieldNote(key, _NOT_CARRIED[key]))
        elif key not in _CARRIED:
            notes.append(FieldNote(key, "not a Responses field tokenhub carries"))
    _note_include(body.get("include"), notes)
    truncation = body.get("truncation")
    if truncation is not None and expect_choice(truncation, "truncation", _TRUNCATIONS) == "auto":
        notes.append(FieldNote("truncation", "'auto' is not carried; an input too long is refused"))


def _note_include(include: Any, notes: list[FieldNote]) -> None:
    """Encrypted reasoning is always included; every other ``include`` entry is noted."""
    if include is None:
        return
    for i, entry in enumerate(expect_list(include, "include")):
        if expect_str(entry, f"include[{i}]") != ENCRYPTED_REASONING:
            notes.append(FieldNote(f"include[{i}]", f"{entry[:60]!r} is not carried"))
