"""Token estimation: a fast heuristic that errs high, so a request that "fits" really fits.

Real tokenizers average about 4 characters per token on English text and fewer on code
and other languages; dividing by 3 over-counts ordinary text by about a third, which is
the point: overflowing a context window costs a failed call, over-estimating costs only
a slightly larger model now and then. No tokenizer is downloaded at run time.
"""

from __future__ import annotations

import orjson

from tokenhub.types import ChatRequest, ImagePart, TextPart, ThinkingPart

CHARS_PER_TOKEN = 3.0
PER_MESSAGE_TOKENS = 5
PER_REQUEST_TOKENS = 4
IMAGE_TOKENS = 1600
PER_TOOL_CALL_TOKENS = 8


def estimate_input_tokens(request: ChatRequest) -> int:
    """Estimate the prompt's tokens (messages, tool calls, tool definitions)."""
    chars = 0
    fixed = PER_REQUEST_TOKENS
    for message in request.messages:
        fixed += PER_MESSAGE_TOKENS
        for part in message.content:
            if type(part) is TextPart:
                chars += len(part.text)
            elif type(part) is ImagePart:
                fixed += IMAGE_TOKENS
            elif type(part) is ThinkingPart:  # sent back to Anthropic; errs high elsewhere
                chars += len(part.text) + len(part.redacted or "")
        for call in message.tool_calls:
            fixed += PER_TOOL_CALL_TOKENS
            chars += len(call.name) + len(call.arguments)
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description or "")
        chars += len(orjson.dumps(tool.parameters))
    return fixed + int(chars / CHARS_PER_TOKEN) + 1
