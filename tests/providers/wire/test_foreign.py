"""Parts of messages and tools the other format cannot carry are named by the client's paths."""

from __future__ import annotations

from tokenhub.providers.wire.foreign import anthropic_foreign, openai_foreign
from tokenhub.types import FieldNote

PNG = {"type": "base64", "media_type": "image/png", "data": "AAAA"}


def fields(notes: list[FieldNote]) -> list[str]:
    """Just the named fields."""
    return [note.field for note in notes]


def test_openai_parts_anthropic_cannot_read():
    """name, audio and file parts, a non-auto detail, unsigned reasoning, custom tools."""
    body = {
        "messages": [
            {"role": "system", "content": "s", "name": "ops"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}},
                    {"type": "file", "file": {"file_id": "file-1"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://x/y.png", "detail": "high"},
                    },
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://x/z.png", "detail": "auto"},
                    },
                ],
            },
            {"role": "assistant", "content": "4", "reasoning_content": "Two and two."},
            {"role": "assistant", "content": "5", "audio": {"id": "a1"}},
        ],
        "tools": [{"type": "custom", "custom": {"name": "grep"}}],
        "tool_choice": {"type": "custom", "custom": {"name": "grep"}},
    }
    assert fields(openai_foreign(body)) == [
        "messages[0].name",
        "messages[1].content[1] (input_audio)",
        "messages[1].content[2] (file)",
        "messages[1].content[3].image_url.detail",
        "messages[2].reasoning_content",
        "messages[3].audio",
        "tools[0] (custom)",
        "tool_choice",
    ]


def test_openai_signed_thinking_blocks_are_not_foreign():
    """Reasoning sent back with its signed thinking_blocks crosses to Anthropic: no note."""
    blocks = [{"type": "thinking", "thinking": "t", "signature": "s"}]
    message = {"role": "assistant", "content": "4", "reasoning_content": "t"}
    body = {"messages": [{**message, "thinking_blocks": blocks}]}
    assert openai_foreign(body) == []


def test_anthropic_blocks_openai_cannot_read():
    """Signed thinking, documents, server blocks and tools, file images, citations, is_error..."""
    body = {
        "system": [{"type": "text", "text": "s"}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "document", "source": {"type": "text", "data": "d"}},
                    {"type": "image", "source": {"type": "file", "file_id": "f"}},
                    {"type": "image", "source": PNG},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "redacted_thinking", "data": "d"},
                    {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}},
                    {"type": "web_search_tool_result", "tool_use_id": "srv", "content": []},
                    {"type": "text", "text": "x", "citations": [{"type": "char_location"}]},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "is_error": True,
                        "content": [{"type": "search_result", "source": "s", "title": "t"}],
                    }
                ],
            },
        ],
        "tools": [
            {"name": "f", "input_schema": {"type": "object"}, "strict": True},
            {"type": "web_search_20250305", "name": "web_search"},
            {"name": "g", "input_schema": {"type": "object"}, "input_examples": [{}]},
        ],
    }
    assert fields(anthropic_foreign(body)) == [
        "messages[0].content[0] (document)",
        "messages[0].content[1] (image file)",
        "messages[1].content[0] (thinking)",
        "messages[1].content[1] (redacted_thinking)",
        "messages[1].content[2] (server_tool_use)",
        "messages[1].content[3] (web_search_tool_result)",
        "messages[1].content[4].citations",
        "messages[2].content[0].is_error",
        "messages[2].content[0].content[0] (search_result)",
        "tools[1] (web_search_20250305)",
        "tools[2].input_examples",
    ]


def test_signed_thinking_reason_says_why():
    """A signed block's note says it is valid only for Anthropic models."""
    body = {"messages": [{"role": "assistant", "content": [{"type": "thinking"}]}]}
    assert "valid only for Anthropic models" in anthropic_foreign(body)[0].reason
