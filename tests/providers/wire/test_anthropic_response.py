"""parse_response/render_response of Anthropic answers: thinking, server tools, citations."""

from __future__ import annotations

from anthropic.types import Message as SDKMessage

from tokenhub.providers.wire import anthropic
from tokenhub.types import ChatResponse, FieldNote, Message, TextPart, ThinkingPart, Usage

# Shaped like Anthropic's extended-thinking answers (docs: "Extended thinking").
THINKING_MESSAGE = {
    "id": "msg_01Th",
    "type": "message",
    "role": "assistant",
    "model": "claude-test",
    "content": [
        {"type": "thinking", "thinking": "Let me add: 2 + 2 = 4.", "signature": "EqQBCgIYAhIM"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
        {"type": "text", "text": "4"},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 20,
        "output_tokens": 90,
        "output_tokens_details": {"thinking_tokens": 70},
        "service_tier": "standard",
    },
}

# Shaped like a web-search answer (docs: "Web search tool"): server blocks and citations.
WEB_SEARCH_MESSAGE = {
    "id": "msg_01Ws",
    "type": "message",
    "role": "assistant",
    "model": "claude-test",
    "content": [
        {
            "type": "server_tool_use",
            "id": "srvtoolu_01",
            "name": "web_search",
            "input": {"query": "weather paris"},
        },
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_01",
            "content": [
                {
                    "type": "web_search_result",
                    "url": "https://example.com/paris",
                    "title": "Paris weather",
                    "encrypted_content": "EqgfCio",
                    "page_age": "April 30, 2025",
                }
            ],
        },
        {
            "type": "text",
            "text": "It is sunny.",
            "citations": [
                {
                    "type": "web_search_result_location",
                    "url": "https://example.com/paris",
                    "title": "Paris weather",
                    "encrypted_index": "Eo8BCioIAhgB",
                    "cited_text": "Sunny, 21C",
                }
            ],
        },
    ],
    "stop_reason": "pause_turn",
    "stop_sequence": None,
    "container": {"id": "container_1", "expires_at": "2026-12-08T01:00:00Z"},
    "usage": {
        "input_tokens": 500,
        "output_tokens": 40,
        "server_tool_use": {"web_search_requests": 1},
    },
}


def test_thinking_blocks_become_thinking_parts():
    """Thinking keeps its signature, redacted_thinking its data; thinking tokens count."""
    resp = anthropic.parse_response(THINKING_MESSAGE)
    assert resp.message.content == [
        ThinkingPart("Let me add: 2 + 2 = 4.", signature="EqQBCgIYAhIM"),
        ThinkingPart("", redacted="EmwKAhgBEgy3va3pzix"),
        TextPart("4"),
    ]
    assert resp.usage == Usage(20, 90, reasoning_tokens=70)
    assert resp.unmapped == []


def test_thinking_answer_renders_back_whole():
    """A parsed thinking answer renders as the same blocks, a valid SDK Message, no notes."""
    notes: list[FieldNote] = []
    body = anthropic.render_response(anthropic.parse_response(THINKING_MESSAGE), notes)
    assert body["content"] == THINKING_MESSAGE["content"]
    assert body["usage"]["output_tokens_details"] == {"thinking_tokens": 70}
    assert notes == []
    SDKMessage.model_validate(body)


def test_unsigned_reasoning_renders_with_an_empty_signature():
    """Reasoning from an OpenAI-format server is a thinking block whose signature is empty."""
    message = Message("assistant", [ThinkingPart("hmm"), TextPart("yes")])
    body = anthropic.render_response(ChatResponse("c1", "m", message, "stop"))
    assert body["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": ""},
        {"type": "text", "text": "yes"},
    ]
    assert SDKMessage.model_validate(body).content[0].type == "thinking"


def test_server_tool_blocks_citations_and_container_are_unmapped():
    """Each part of a web-search answer the canonical form lacks is named once."""
    resp = anthropic.parse_response(WEB_SEARCH_MESSAGE)
    assert resp.message.content == [TextPart("It is sunny.")]
    assert resp.finish_reason == "stop"
    assert [note.field for note in resp.unmapped] == [
        "content[0]",
        "content[1]",
        "content[2].citations",
        "container",
        "stop_reason",
        "usage.server_tool_use",
    ]
    assert "server_tool_use" in resp.unmapped[0].reason


def test_rendering_reports_what_was_unmapped():
    """Rendering a response adds its unmapped parts to the notes."""
    resp = anthropic.parse_response(WEB_SEARCH_MESSAGE)
    notes: list[FieldNote] = []
    anthropic.render_response(resp, notes)
    assert notes == resp.unmapped
