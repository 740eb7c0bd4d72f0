"""Microbenchmarks of wire translation (tokenhub.providers.wire) on the benchmark's request.

Run with `make bench-micro`. The request and response are those of `make bench`'s
`chat.lua` and of the simulator's 20-token reply, so these figures are the translation
share of one gateway request.
"""

from __future__ import annotations

from tokenhub.providers.wire import anthropic, openai

REQUEST = {
    "model": "auto",
    "max_tokens": 64,
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Say hello to the benchmark in one short sentence."},
    ],
}
OPENAI_RESPONSE = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Set any how set " * 5},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 31, "completion_tokens": 20, "total_tokens": 51},
}
ANTHROPIC_RESPONSE = {
    "id": "msg_01abc",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-4-5",
    "content": [{"type": "text", "text": "Set any how set " * 5}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 31, "output_tokens": 20},
}


def test_parse_openai_request(benchmark):
    """Consumer side: an OpenAI chat request to the canonical ChatRequest."""
    benchmark(openai.parse_request, REQUEST)


def test_render_openai_upstream_request(benchmark):
    """Upstream side: ChatRequest to an OpenAI-format body."""
    request = openai.parse_request(REQUEST)
    benchmark(openai.render_request, request, "gpt-4o-mini")


def test_render_anthropic_upstream_request(benchmark):
    """Upstream side, across formats: ChatRequest to an Anthropic Messages body."""
    request = openai.parse_request(REQUEST)
    benchmark(anthropic.render_request, request, "claude-haiku-4-5")


def test_openai_response_round_trip(benchmark):
    """An OpenAI upstream answer parsed and rendered back to the OpenAI client."""

    def round_trip():
        return openai.render_response(openai.parse_response(OPENAI_RESPONSE))

    benchmark(round_trip)


def test_anthropic_response_to_openai_client(benchmark):
    """An Anthropic upstream answer rendered for an OpenAI client."""

    def translate():
        return openai.render_response(anthropic.parse_response(ANTHROPIC_RESPONSE))

    benchmark(translate)
