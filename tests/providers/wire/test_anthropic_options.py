"""A Messages body's options: thinking from reasoning_effort, its conflicts, tools, tiers."""

from __future__ import annotations

from typing import Any

import pytest

from tokenhub.providers.wire.anthropic_options import render_options
from tokenhub.types import (
    ChatRequest,
    FieldNote,
    Message,
    TextPart,
    Thinking,
    ThinkingPart,
    ToolCall,
    ToolChoice,
    ToolSpec,
)

HI = [Message("user", [TextPart("hi")])]


def options(max_tokens: int = 20_000, **fields: Any) -> tuple[dict[str, Any], list[FieldNote]]:
    """The options rendered for a request with ``fields``, and the notes."""
    body: dict[str, Any] = {}
    notes: list[FieldNote] = []
    render_options(ChatRequest("m", fields.pop("messages", HI), **fields), body, max_tokens, notes)
    return body, notes


def test_reasoning_effort_becomes_a_thinking_budget():
    """reasoning_effort high is thinking enabled with a 24,576-token budget."""
    body, notes = options(60_000, reasoning_effort="high")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 24_576}
    assert notes == []


def test_no_effort_sends_no_thinking():
    """reasoning_effort none (or minimal) sends no thinking and loses nothing."""
    assert options(reasoning_effort="none") == ({}, [])


def test_too_few_max_tokens_to_think_is_noted():
    """With max_tokens at 1,024 or less Anthropic cannot think: sent without, noted."""
    body, notes = options(1000, reasoning_effort="low")
    assert "thinking" not in body
    assert fields(notes) == ["reasoning_effort"]


def test_an_anthropic_thinking_is_kept():
    """A canonical Thinking (adaptive) is sent as it is."""
    body, _ = options(thinking=Thinking("adaptive"))
    assert body["thinking"] == {"type": "adaptive"}


def test_sampling_that_conflicts_with_thinking_is_dropped_and_noted():
    """While thinking: temperature other than 1, top_k, and top_p below 0.95 go, noted."""
    body, notes = options(reasoning_effort="low", temperature=0.2, top_p=0.5, top_k=40)
    assert "temperature" not in body
    assert "top_p" not in body
    assert "top_k" not in body
    assert fields(notes) == ["temperature", "top_p", "top_k"]


def test_sampling_without_thinking_is_kept():
    """Without thinking, temperature, top_p and top_k are sent as given."""
    body, notes = options(temperature=0.2, top_p=0.5, top_k=40)
    assert (body["temperature"], body["top_p"], body["top_k"]) == (0.2, 0.5, 40)
    assert notes == []


def test_temperature_above_one_is_clamped_and_noted():
    """Temperature 1.5 is sent as 1, with a note."""
    body, notes = options(temperature=1.5)
    assert body["temperature"] == 1.0
    assert notes == [FieldNote("temperature", "clamped to 1, Anthropic's maximum")]


@pytest.mark.parametrize("choice", [ToolChoice("required"), ToolChoice("tool", "f")])
def test_forced_tool_sends_no_thinking(choice):
    """A tool_choice forcing a tool and reasoning_effort: the tool wins, thinking noted."""
    tools = [ToolSpec("f")]
    body, notes = options(reasoning_effort="low", tools=tools, tool_choice=choice)
    assert "thinking" not in body
    assert fields(notes) == ["reasoning_effort"]


def tool_loop(first: list) -> list[Message]:
    """A conversation ending in a tool result, the calling turn opening with ``first``."""
    call = ToolCall("c1", "f", "{}")
    return [
        *HI,
        Message("assistant", [*first, TextPart("calling")], tool_calls=[call]),
        Message("tool", [TextPart("ok")], tool_call_id="c1"),
    ]


def test_tool_loop_without_signed_thinking_sends_no_thinking():
    """Tool results answering a turn with no signed thinking: no thinking, noted."""
    body, notes = options(reasoning_effort="low", messages=tool_loop([]))
    assert "thinking" not in body
    assert "signed thinking" in notes[0].reason


def test_tool_loop_with_signed_thinking_thinks():
    """The same loop whose turn opens with signed thinking keeps the thinking."""
    signed = [ThinkingPart("t", signature="sig")]
    body, notes = options(reasoning_effort="low", messages=tool_loop(signed))
    assert body["thinking"]["type"] == "enabled"
    assert notes == []


@pytest.mark.parametrize(
    ("tier", "sent"), [("auto", "auto"), ("default", "standard_only"), ("flex", None)]
)
def test_service_tiers(tier, sent):
    """Auto and default have Anthropic counterparts; flex is noted."""
    body, notes = options(service_tier=tier)
    assert body.get("service_tier") == sent
    assert fields(notes) == ([] if sent else ["service_tier"])


def test_allowed_tools_send_only_the_allowed():
    """allowed_tools in required mode: only those tools, with tool_choice any."""
    tools = [ToolSpec("a"), ToolSpec("b", strict=True), ToolSpec("c")]
    choice = ToolChoice("required", allowed=["b"])
    body, _ = options(tools=tools, tool_choice=choice, parallel_tool_calls=False)
    assert [tool["name"] for tool in body["tools"]] == ["b"]
    assert body["tools"][0]["strict"] is True
    assert body["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def fields(notes: list[FieldNote]) -> list[str]:
    """Just the named fields."""
    return [note.field for note in notes]
