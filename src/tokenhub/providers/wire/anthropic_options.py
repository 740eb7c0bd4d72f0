"""The options of a Messages body: sampling, thinking, tools, tiers, and what they lose.

Thinking and sampling interact on Anthropic: with thinking on, ``temperature`` may only
be 1, ``top_k`` is refused, ``top_p`` must be at least 0.95, and a ``tool_choice`` that
forces a tool is refused, as is thinking in a tool loop whose tool-calling turn does not
open with the signed thinking Anthropic produced. A translated request keeps the thinking
and drops the sampling options it conflicts with (noted), except under a forced tool or
in such a tool loop, where the thinking goes (noted).
"""

from __future__ import annotations

from typing import Any

from tokenhub.providers.wire.crossing import (
    MIN_BUDGET,
    NO_REASONING,
    SERVICE_TIERS,
    budget_for_effort,
)
from tokenhub.types import (
    ChatRequest,
    FieldNote,
    Message,
    Thinking,
    ThinkingPart,
    ToolChoice,
    ToolSpec,
)

_TOOL_CHOICES = {"auto": "auto", "required": "any", "none": "none"}
_MIN_TOP_P_THINKING = 0.95


def render_options(
    req: ChatRequest, body: dict[str, Any], max_tokens: int, notes: list[FieldNote]
) -> None:
    """Set sampling, stop, tool, user, tier and thinking options on ``body``."""
    thinking = _thinking(req, max_tokens, notes)
    if thinking is not None:
        body["thinking"] = thinking
    _sampling(req, body, thinking is not None and thinking["type"] != "disabled", notes)
    if req.stop:
        body["stop_sequences"] = list(req.stop)
    _tools(req, body)
    if req.user is not None:
        body["metadata"] = {"user_id": req.user}
    if req.service_tier is not None:
        tier = SERVICE_TIERS.get(req.service_tier)
        if tier is None:
            reason = f"'{req.service_tier}' has no Anthropic counterpart (auto, standard_only)"
            notes.append(FieldNote("service_tier", reason))
        else:
            body["service_tier"] = tier
    if req.stream:
        body["stream"] = True


def _thinking(req: ChatRequest, max_tokens: int, notes: list[FieldNote]) -> dict[str, Any] | None:
    """Anthropic's ``thinking``: the request's own, else made from ``reasoning_effort``."""
    if req.thinking is not None:
        return _own_thinking(req.thinking)
    effort = req.reasoning_effort
    if effort is None:
        return None
    budget = budget_for_effort(effort, max_tokens)
    if budget is None:
        if effort not in NO_REASONING:
            reason = f"Anthropic thinks only with max_tokens above {MIN_BUDGET}; sent without"
            notes.append(FieldNote("reasoning_effort", reason))
        return None
    if _forced(req.tool_choice):
        reason = "Anthropic cannot think when tool_choice forces a tool; sent without thinking"
        notes.append(FieldNote("reasoning_effort", reason))
        return None
    if _unsigned_tool_loop(req.messages):
        reason = (
            "Anthropic thinks in a tool loop only if the tool-calling turn starts with its"
            " signed thinking (send thinking_blocks back); sent without thinking"
        )
        notes.append(FieldNote("reasoning_effort", reason))
        return None
    return {"type": "enabled", "budget_tokens": budget}


def _unsigned_tool_loop(messages: list[Message]) -> bool:
    """Whether the request answers tool calls whose assistant turn has no signed thinking.

    Anthropic refuses thinking then: the turn must open with the thinking it produced.
    """
    if not messages or messages[-1].role != "tool":
        return False
    turn = next((m for m in reversed(messages) if m.role == "assistant"), None)
    if turn is None or not turn.content:
        return True
    first = turn.content[0]
    return not (isinstance(first, ThinkingPart) and (first.signature or first.redacted))


def _own_thinking(thinking: Thinking) -> dict[str, Any]:
    out: dict[str, Any] = {"type": thinking.mode}
    if thinking.budget_tokens is not None:
        out["budget_tokens"] = thinking.budget_tokens
    return out


def _forced(choice: ToolChoice | None) -> bool:
    return choice is not None and choice.mode in ("required", "tool")


def _sampling(req: ChatRequest, body: dict[str, Any], thinks: bool, notes: list[FieldNote]) -> None:
    temperature, top_p, top_k = req.temperature, req.top_p, req.top_k
    conflict = "Anthropic refuses it while thinking"
    if thinks and temperature is not None and temperature != 1:
        notes.append(FieldNote("temperature", f"{conflict} (only 1 is allowed)"))
        temperature = None
    if temperature is not None:
        if temperature > 1:
            notes.append(FieldNote("temperature", "clamped to 1, Anthropic's maximum"))
        body["temperature"] = min(temperature, 1.0)
    if thinks and top_p is not None and top_p < _MIN_TOP_P_THINKING:
        notes.append(FieldNote("top_p", f"{conflict} (below {_MIN_TOP_P_THINKING})"))
        top_p = None
    if top_p is not None:
        body["top_p"] = top_p
    if thinks and top_k is not None:
        notes.append(FieldNote("top_k", conflict))
        top_k = None
    if top_k is not None:
        body["top_k"] = top_k


def _tools(req: ChatRequest, body: dict[str, Any]) -> None:
    choice = req.tool_choice
    tools = req.tools
    if choice is not None and choice.allowed is not None:
        allowed = set(choice.allowed)
        tools = [tool for tool in tools if tool.name in allowed]
    if tools:
        body["tools"] = [_render_tool(t) for t in tools]
    if choice is not None:
        body["tool_choice"] = _render_tool_choice(choice)
    if req.parallel_tool_calls is False and tools:
        rendered = body.setdefault("tool_choice", {"type": "auto"})
        if rendered["type"] != "none":  # Anthropic accepts the flag on auto, any and tool
            rendered["disable_parallel_tool_use"] = True


def _render_tool(tool: ToolSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        out["description"] = tool.description
    out["input_schema"] = tool.parameters or {"type": "object", "properties": {}}
    if tool.strict:
        out["strict"] = True
    if tool.cache_control is not None:
        out["cache_control"] = dict(tool.cache_control)
    return out


def _render_tool_choice(choice: ToolChoice) -> dict[str, Any]:
    if choice.mode == "tool":
        return {"type": "tool", "name": choice.name}
    return {"type": _TOOL_CHOICES[choice.mode]}
