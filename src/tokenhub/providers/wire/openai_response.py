"""OpenAI ``chat.completion`` answers to and from the canonical :class:`ChatResponse`.

What maps: the message's text (a ``refusal`` becomes text), function tool calls, the
reasoning text OpenAI-format servers return (``reasoning_content`` from vLLM and
DeepSeek, ``reasoning`` from newer vLLM) as an unsigned :class:`ThinkingPart`, usage with
``cached_tokens`` and ``reasoning_tokens``. What the canonical form does not model is named
in ``ChatResponse.unmapped`` (reported whenever the answer is rendered anew): choices
after the first, ``logprobs``, ``annotations``, ``audio``, a deprecated
``function_call``, non-function tool calls, a refusal beside text. Envelope fields that say
how the answer was served rather than what it says (``system_fingerprint``,
``service_tier``) are not carried.

Rendering for an OpenAI client, thinking becomes ``message.reasoning_content`` (the field
vLLM and DeepSeek use; the openai SDK keeps it in ``model_extra``), several thinking blocks
(interleaved with tool use) joined into one string, as the text is. Anthropic's seal on its
thinking (``signature``), redacted thinking and the matched ``stop_sequence`` have no
OpenAI field: each is noted. Cache writes, which OpenAI does not report, are shown as
``usage.prompt_tokens_details.cache_creation_tokens``.
"""

from __future__ import annotations

from typing import Any

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.wire.openai_stream import (
    FINISH_REASONS,
    LOGPROBS_NOTE,
    MESSAGE_FIELDS,
    REDACTED_NOTE,
    SIGNATURE_NOTE,
    STOP_SEQUENCE_NOTE,
    parse_usage,
    reasoning_of,
    render_usage,
)
from tokenhub.types import (
    ChatResponse,
    ContentPart,
    FieldNote,
    Message,
    TextPart,
    ThinkingPart,
    ToolCall,
)

__all__ = ["parse_response", "render_response", "render_tool_call", "thinking_notes"]


def parse_response(body: dict[str, Any]) -> ChatResponse:
    """Read an upstream ``chat.completion``; a malformed one is a transient provider error."""
    try:
        return _parse_response(body)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:
        msg = f"malformed chat.completion from upstream: {exc!r}"
        raise ProviderError(ErrorKind.TRANSIENT, msg) from exc


def _parse_response(body: dict[str, Any]) -> ChatResponse:
    choices = body["choices"]
    choice = choices[0]
    message = choice["message"]
    parts: list[ContentPart] = []
    reasoning = reasoning_of(message)
    if reasoning is not None:
        parts.append(ThinkingPart(reasoning))
    text = message.get("content") or message.get("refusal") or ""
    if text:
        parts.append(TextPart(text))
    unmapped = _choice_notes(choice, message)
    if len(choices) > 1:
        reason = f"{len(choices) - 1} more choices; only the first is translated"
        unmapped.append(FieldNote("choices", reason))
    return ChatResponse(
        id=body["id"],
        model=body["model"],
        message=Message("assistant", parts, tool_calls=_tool_calls(message, unmapped)),
        finish_reason=FINISH_REASONS.get(choice.get("finish_reason"), "stop"),
        usage=parse_usage(body.get("usage") or {}),
        created=body.get("created") or 0,
        unmapped=unmapped,
    )


def _tool_calls(message: dict[str, Any], unmapped: list[FieldNote]) -> list[ToolCall]:
    calls: list[ToolCall] = []
    for index, call in enumerate(message.get("tool_calls") or ()):
        kind = call.get("type", "function")
        if kind == "function":
            function = call["function"]
            calls.append(ToolCall(call["id"], function["name"], function["arguments"]))
        else:
            path = f"choices[0].message.tool_calls[{index}]"
            unmapped.append(FieldNote(path, f"a {kind} tool call, not translated"))
    return calls


def _choice_notes(choice: dict[str, Any], message: dict[str, Any]) -> list[FieldNote]:
    notes: list[FieldNote] = []
    if choice.get("logprobs"):
        notes.append(LOGPROBS_NOTE)
    notes.extend(
        FieldNote(f"choices[0].message.{key}", reason)
        for key, reason in MESSAGE_FIELDS.items()
        if message.get(key)
    )
    if message.get("content") and message.get("refusal"):
        notes.append(FieldNote("choices[0].message.refusal", "a refusal beside the text"))
    return notes


def render_response(resp: ChatResponse, notes: list[FieldNote] | None = None) -> dict[str, Any]:
    """Build a complete ``chat.completion`` object for an OpenAI client.

    What the upstream answered and this cannot carry is added to ``notes``.
    """
    content = resp.message.content
    message: dict[str, Any] = {
        "role": "assistant",
        "content": resp.message.text() if any(isinstance(p, TextPart) for p in content) else None,
        "refusal": None,
        "annotations": [],
    }
    thinking = [p for p in content if isinstance(p, ThinkingPart)]
    reasoning = "".join(p.text for p in thinking)
    if reasoning:
        message["reasoning_content"] = reasoning
    if resp.message.tool_calls:
        message["tool_calls"] = [render_tool_call(c) for c in resp.message.tool_calls]
    if notes is not None:
        notes.extend(resp.unmapped)
        notes.extend(thinking_notes(thinking))
        if resp.stop_sequence is not None:
            notes.append(STOP_SEQUENCE_NOTE)
    return {
        "id": resp.id,
        "object": "chat.completion",
        "created": resp.created,
        "model": resp.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": resp.finish_reason}
        ],
        "usage": render_usage(resp.usage),
    }


def thinking_notes(thinking: list[ThinkingPart]) -> list[FieldNote]:
    """What of Anthropic's thinking an OpenAI client cannot be shown: seals, redactions."""
    notes: list[FieldNote] = []
    if any(p.signature for p in thinking):
        notes.append(SIGNATURE_NOTE)
    if any(p.redacted is not None for p in thinking):
        notes.append(REDACTED_NOTE)
    return notes


def render_tool_call(call: ToolCall) -> dict[str, Any]:
    """One OpenAI ``tool_calls`` entry."""
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }
