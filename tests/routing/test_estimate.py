"""Token estimation errs high and counts every part of the prompt."""

from __future__ import annotations

from tokenhub.routing.estimate import IMAGE_TOKENS, estimate_input_tokens
from tokenhub.types import (
    ChatRequest,
    ImagePart,
    Message,
    TextPart,
    ThinkingPart,
    ToolCall,
    ToolSpec,
)


def test_estimate_errs_high_for_english_text():
    """Ordinary English (about 4 chars/token) is over-counted, never under."""
    text = "The quick brown fox jumps over the lazy dog. " * 100
    req = ChatRequest(model="m", messages=[Message("user", [TextPart(text)])])
    real_ish = len(text) / 4
    assert estimate_input_tokens(req) > real_ish * 1.2


def test_images_tools_and_tool_calls_count():
    """Images add a fixed amount; tool definitions and tool-call arguments add their text."""
    base = ChatRequest(model="m", messages=[Message("user", [TextPart("hi")])])
    with_image = ChatRequest(
        model="m", messages=[Message("user", [TextPart("hi"), ImagePart("https://x/y.png")])]
    )
    assert estimate_input_tokens(with_image) - estimate_input_tokens(base) == IMAGE_TOKENS
    with_tools = ChatRequest(
        model="m",
        messages=[
            Message("user", [TextPart("hi")]),
            Message(
                "assistant", tool_calls=[ToolCall("c1", "lookup", '{"q": "' + "x" * 300 + '"}')]
            ),
        ],
        tools=[ToolSpec("lookup", "Look something up", {"type": "object"})],
    )
    assert estimate_input_tokens(with_tools) > estimate_input_tokens(base) + 100


def test_thinking_in_the_conversation_counts():
    """Thinking sent back in an assistant turn (text or redacted payload) adds its length."""
    base = ChatRequest(model="m", messages=[Message("assistant", [TextPart("ok")])])
    thought = ThinkingPart("step " * 300, signature="sig")
    redacted = ThinkingPart("", redacted="x" * 900)
    thinking = ChatRequest(
        model="m", messages=[Message("assistant", [thought, redacted, TextPart("ok")])]
    )
    assert estimate_input_tokens(thinking) >= estimate_input_tokens(base) + 800
