"""What inside a client's messages and tools the other format cannot carry, by position.

The parsers accept these (a same-format upstream gets the client's body whole) but the
canonical form keeps no counterpart for them, so a renderer of the other format lists
them here, named by the client's own paths (``messages[3].content[1] (document)``).
The body has been validated by the parser already: the walks only look.
"""

from __future__ import annotations

from typing import Any

from tokenhub.types import FieldNote

ANTHROPIC_MODELLED = frozenset({"text", "image", "tool_use", "tool_result"})
"""Anthropic content blocks the canonical form models (thinking apart: see below)."""
SIGNED = frozenset({"thinking", "redacted_thinking"})
"""Anthropic reasoning blocks: sealed by Anthropic, valid only for its models."""
_SIGNED_REASON = "signed by Anthropic, valid only for Anthropic models; the reasoning is not sent"
_IMAGE_SOURCES = frozenset({"base64", "url"})
_TOOL_KEYS = frozenset({"type", "name", "description", "input_schema", "strict", "cache_control"})
"""A client tool's fields that cross (``cache_control`` as OpenAI's automatic caching)."""


def openai_foreign(body: dict[str, Any]) -> list[FieldNote]:
    """What of an OpenAI client's messages and tools an Anthropic upstream will not get."""
    notes: list[FieldNote] = []
    for i, message in enumerate(body.get("messages") or ()):
        _openai_message(message, f"messages[{i}]", notes)
    for i, tool in enumerate(body.get("tools") or ()):
        if tool.get("type") == "custom":
            notes.append(FieldNote(f"tools[{i}] (custom)", "Anthropic tools take JSON input"))
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "custom":
        notes.append(FieldNote("tool_choice", "it names a custom tool, which is not sent"))
    return notes


def _openai_message(message: dict[str, Any], path: str, notes: list[FieldNote]) -> None:
    if message.get("name") is not None:
        notes.append(FieldNote(f"{path}.name", "Anthropic messages carry no name"))
    if message.get("role") == "assistant":
        _openai_assistant(message, path, notes)
    content = message.get("content")
    if not isinstance(content, list):
        return
    for j, part in enumerate(content):
        kind = part.get("type")
        where = f"{path}.content[{j}]"
        if kind == "input_audio":
            notes.append(FieldNote(f"{where} (input_audio)", "Anthropic models hear no audio"))
        elif kind == "file":
            notes.append(FieldNote(f"{where} (file)", "files are not translated for Anthropic"))
        elif kind == "image_url" and part["image_url"].get("detail") not in (None, "auto"):
            reason = "Anthropic has no image detail setting"
            notes.append(FieldNote(f"{where}.image_url.detail", reason))


def _openai_assistant(message: dict[str, Any], path: str, notes: list[FieldNote]) -> None:
    if message.get("thinking_blocks") is None and message.get("reasoning_content"):
        reason = "unsigned reasoning text; Anthropic takes back only thinking it signed"
        notes.append(FieldNote(f"{path}.reasoning_content", reason))
    if message.get("audio") is not None:
        notes.append(FieldNote(f"{path}.audio", "Anthropic has no audio answers"))
    if message.get("function_call") is not None:
        notes.append(FieldNote(f"{path}.function_call", "the deprecated functions API"))


def anthropic_foreign(body: dict[str, Any]) -> list[FieldNote]:
    """What of an Anthropic client's system, messages and tools an OpenAI upstream will not get."""
    notes: list[FieldNote] = []
    system = body.get("system")
    if isinstance(system, list):
        for j, block in enumerate(system):
            _anthropic_block(block, f"system[{j}]", notes)
    for i, message in enumerate(body.get("messages") or ()):
        content = message.get("content")
        if isinstance(content, list):
            for j, block in enumerate(content):
                _anthropic_block(block, f"messages[{i}].content[{j}]", notes)
    for i, tool in enumerate(body.get("tools") or ()):
        _anthropic_tool(tool, f"tools[{i}]", notes)
    return notes


def _anthropic_tool(tool: dict[str, Any], path: str, notes: list[FieldNote]) -> None:
    kind = tool.get("type")
    if kind not in (None, "custom"):
        reason = "a server tool Anthropic runs itself; OpenAI has no such tool"
        notes.append(FieldNote(f"{path} ({kind})", reason))
        return
    extra = sorted(tool.keys() - _TOOL_KEYS)  # input_examples, defer_loading, allowed_callers...
    notes.extend(FieldNote(f"{path}.{key}", "OpenAI functions have no such field") for key in extra)


def _anthropic_block(block: dict[str, Any], path: str, notes: list[FieldNote]) -> None:
    kind = block.get("type")
    if kind in SIGNED:
        notes.append(FieldNote(f"{path} ({kind})", _SIGNED_REASON))
    elif kind not in ANTHROPIC_MODELLED:
        notes.append(FieldNote(f"{path} ({kind})", "no counterpart in the OpenAI format"))
    elif kind == "image" and block["source"].get("type") not in _IMAGE_SOURCES:
        source = block["source"].get("type")
        notes.append(FieldNote(f"{path} (image {source})", "OpenAI takes images by URL only"))
    elif kind == "text" and block.get("citations"):
        notes.append(FieldNote(f"{path}.citations", "OpenAI messages carry no citations"))
    elif kind == "tool_result":
        _tool_result(block, path, notes)


def _tool_result(block: dict[str, Any], path: str, notes: list[FieldNote]) -> None:
    if block.get("is_error"):
        reason = "OpenAI tool messages cannot mark a failed tool run"
        notes.append(FieldNote(f"{path}.is_error", reason))
    content = block.get("content")
    if isinstance(content, list):
        for k, inner in enumerate(content):
            _anthropic_block(inner, f"{path}.content[{k}]", notes)
