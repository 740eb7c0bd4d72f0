"""Anthropic extended thinking: the ``thinking`` parameter, replayed blocks, and output.

Validation follows the real Messages API: a ``budget_tokens`` of at least 1024 and below
``max_tokens`` (unless the interleaved-thinking beta lifts that), a valid signature on
every ``thinking`` block sent back, valid ``data`` on every ``redacted_thinking`` block,
and, with thinking on, a final assistant turn that starts with thinking when the request
continues a tool call. Wording from real 400s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tokenhub.sim.core import Reply, RequestInvalid
from tokenhub.sim.scenario import ModelSpec
from tokenhub.sim.thinking import redacted_data, redacted_valid, sign_thinking, signature_valid

THINKING_TYPES = frozenset({"thinking", "redacted_thinking"})
"""Content block types that carry reasoning."""

MIN_BUDGET = 1024
"""The smallest ``budget_tokens`` the real API accepts."""

INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"
"""With this ``anthropic-beta``, ``budget_tokens`` may exceed ``max_tokens``."""

_CONFIG_TYPES = ("enabled", "disabled", "adaptive", "between_tools")
_DOCS = "https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
_BUDGET_ABOVE_MAX = (
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our "
    f"documentation at {_DOCS}#max-tokens-and-context-window-size"
)
_TEMPERATURE = "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode."
_MUST_START = (
    "{where}.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When "
    "`thinking` is enabled, a final `assistant` message must start with a thinking block "
    "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend "
    "you include thinking blocks from previous turns. To avoid this requirement, disable "
    f"`thinking`. Please consult our documentation at {_DOCS}"
)

Found = list[tuple[int, int, dict[str, Any]]]
"""Thinking blocks seen in a request: message index, block index, the block."""


def thinking_budget(body: dict[str, Any], max_tokens: int, betas: str) -> int | None:
    """The request's thinking budget, or None when thinking is off; RequestInvalid if bad.

    ``adaptive`` (and ``between_tools``) leave the amount to the model: up to
    ``max_tokens - 1`` here, so a generated reply still has room.
    """
    config = body.get("thinking")
    if config is None:
        return None
    if not isinstance(config, dict):
        raise RequestInvalid("thinking: Input should be a valid dictionary or object")
    kind = config.get("type")
    if kind not in _CONFIG_TYPES:
        expected = ", ".join(f"'{t}'" for t in _CONFIG_TYPES)
        raise RequestInvalid(
            f"thinking: Input tag '{kind}' found using 'type' does not match any of the "
            f"expected tags: {expected}"
        )
    if kind == "disabled":
        return None
    _check_temperature(body)
    if kind != "enabled":
        return max(1, max_tokens - 1)
    budget = config.get("budget_tokens")
    if budget is None:
        raise RequestInvalid("thinking.enabled.budget_tokens: Field required")
    if not isinstance(budget, int) or isinstance(budget, bool):
        raise RequestInvalid("thinking.enabled.budget_tokens: Input should be a valid integer")
    if budget < MIN_BUDGET:
        raise RequestInvalid(
            f"thinking.enabled.budget_tokens: Input should be greater than or equal to {MIN_BUDGET}"
        )
    if budget >= max_tokens and INTERLEAVED_BETA not in betas:
        raise RequestInvalid(_BUDGET_ABOVE_MAX)
    return budget


def _check_temperature(body: dict[str, Any]) -> None:
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise RequestInvalid(_TEMPERATURE)


def check_replayed(found: Found, key: bytes) -> None:
    """Reject a thinking or redacted_thinking block this simulator did not produce."""
    for message, position, block in found:
        where = f"messages.{message}.content.{position}"
        if block["type"] == "thinking":
            _check_signed(where, block, key)
        else:
            data = block.get("data")
            if not isinstance(data, str):
                raise RequestInvalid(f"{where}.redacted_thinking.data: Field required")
            if not redacted_valid(key, data):
                raise RequestInvalid(f"{where}: Invalid `data` in `redacted_thinking` block")


def _check_signed(where: str, block: dict[str, Any], key: bytes) -> None:
    for field in ("signature", "thinking"):
        if not isinstance(block.get(field), str):
            raise RequestInvalid(f"{where}.thinking.{field}: Field required")
    if not signature_valid(key, block["thinking"], block["signature"]):
        raise RequestInvalid(f"{where}: Invalid `signature` in `thinking` block")


def check_tool_turn(messages: list[dict[str, Any]]) -> None:
    """With thinking on, the assistant turn a tool_result answers must start with thinking."""
    last = messages[-1]
    if last["role"] != "user" or not _has_tool_result(last["content"]):
        return
    earlier = range(len(messages) - 2, -1, -1)
    index = next((i for i in earlier if messages[i]["role"] == "assistant"), None)
    if index is None:
        return
    content = messages[index]["content"]
    first = content[0] if isinstance(content, list) and content else None
    found = first.get("type") if isinstance(first, dict) else "text"
    if found not in THINKING_TYPES:
        where = f"messages.{index}.content.0"
        raise RequestInvalid(_MUST_START.format(where=where, found=found))


def _has_tool_result(content: Any) -> bool:
    if not isinstance(content, list):
        return False
    return any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content)


def thinking_blocks(
    reply: Reply, model: ModelSpec, key: bytes, nonce: Callable[[], bytes], *, shown: bool
) -> list[dict[str, Any]]:
    """The reasoning blocks that open the answer: thinking and/or redacted_thinking.

    ``shown`` False is ``display: "omitted"``: the thinking text is left out, its
    signature still comes.
    """
    blocks: list[dict[str, Any]] = []
    if model.redacted_thinking != "instead":
        text = "".join(reply.reasoning) if shown else ""
        blocks.append({"type": "thinking", "thinking": text, "signature": sign_thinking(key, text)})
    if model.redacted_thinking != "off":
        blocks.append({"type": "redacted_thinking", "data": redacted_data(key, nonce())})
    return blocks
