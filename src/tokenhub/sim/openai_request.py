"""Validation of OpenAI Chat Completions request bodies (also used for vLLM).

Messages and codes follow the real API: ``missing_required_parameter``, ``invalid_type``,
``invalid_value`` and friends, each naming the offending ``param``.
"""

from __future__ import annotations

from typing import Any

import orjson

from tokenhub.sim.core import MESSAGE_OVERHEAD_TOKENS, RequestInvalid, SimRequest, count_tokens
from tokenhub.sim.logprobs import MAX_TOP_LOGPROBS

_ROLES = ("system", "assistant", "user", "function", "tool", "developer")
_TIERS = ("auto", "default", "flex", "scale", "priority")
_NOT_JSON = (
    "We could not parse the JSON body of your request. The OpenAI API expects a JSON "
    "payload, but what was sent was not valid JSON."
)


def parse_chat(body: Any) -> SimRequest:
    """Validate a Chat Completions body like the real API; raise RequestInvalid."""
    if not isinstance(body, dict):
        raise RequestInvalid(_NOT_JSON)
    model = _required(body, "model", str, "a string")
    messages = _required(body, "messages", list, "an array")
    if not messages:
        raise RequestInvalid(
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    texts = [_message_text(i, m) for i, m in enumerate(messages)]
    stream = _stream_flag(body)
    tools = body.get("tools")
    prompt = sum(map(count_tokens, texts)) + MESSAGE_OVERHEAD_TOKENS * len(messages)
    prompt += count_tokens(orjson.dumps(tools).decode()) if tools else 0
    last_user = next(
        (t for m, t in zip(messages[::-1], texts[::-1], strict=True) if m["role"] == "user"), ""
    )
    options = body.get("stream_options")
    return SimRequest(
        model=model,
        prompt_text=last_user,
        prompt_tokens=prompt,
        max_tokens=_max_tokens(body),
        stream=stream,
        include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
        logprobs=_logprobs(body),
        service_tier=_service_tier(body),
    )


def _required(body: dict[str, Any], name: str, kind: type, expected: str) -> Any:
    value = body.get(name)
    if value is None:
        raise RequestInvalid(
            f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
        )
    if not isinstance(value, kind):
        raise _bad_type(name, expected, value)
    return value


def _bad_type(name: str, expected: str, value: Any) -> RequestInvalid:
    got = {
        bool: "a boolean",
        int: "an integer",
        float: "a decimal",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), "null")
    return RequestInvalid(
        f"Invalid type for '{name}': expected {expected}, but got {got} instead.",
        param=name,
        code="invalid_type",
    )


def _message_text(index: int, message: Any) -> str:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise _bad_type(where, "an object", message)
    role = message.get("role")
    if role is None:
        raise RequestInvalid(
            f"Missing required parameter: '{where}.role'.",
            param=f"{where}.role",
            code="missing_required_parameter",
        )
    if role not in _ROLES:
        raise RequestInvalid(
            f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
            "'function', 'tool', and 'developer'.",
            param=f"{where}.role",
            code="invalid_value",
        )
    return _content_text(message.get("content")) + "".join(
        str(c.get("function", {}).get("arguments", "")) for c in message.get("tool_calls") or ()
    )


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _stream_flag(body: dict[str, Any]) -> bool:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad_type("stream", "a boolean", stream)
    if body.get("stream_options") is not None and not stream:
        raise RequestInvalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    return bool(stream)


def _max_tokens(body: dict[str, Any]) -> int | None:
    name = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad_type(name, "an integer", value)
    if value < 1:
        raise RequestInvalid(
            f"Invalid '{name}': integer below minimum value. Expected a value >= 1, "
            f"but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    return value


def _logprobs(body: dict[str, Any]) -> int | None:
    """The ``top_logprobs`` count when ``logprobs`` is true, else None."""
    wanted = body.get("logprobs")
    if wanted is not None and not isinstance(wanted, bool):
        raise _bad_type("logprobs", "a boolean", wanted)
    top = body.get("top_logprobs")
    if top is None:
        return 0 if wanted else None
    if isinstance(top, bool) or not isinstance(top, int):
        raise _bad_type("top_logprobs", "an integer", top)
    if top < 0:
        raise RequestInvalid(
            "Invalid 'top_logprobs': integer below minimum value. Expected a value >= 0, "
            f"but got {top} instead.",
            param="top_logprobs",
            code="integer_below_min_value",
        )
    if top > MAX_TOP_LOGPROBS:
        raise RequestInvalid(
            "Invalid 'top_logprobs': integer above maximum value. Expected a value <= "
            f"{MAX_TOP_LOGPROBS}, but got {top} instead.",
            param="top_logprobs",
            code="integer_above_max_value",
        )
    return top if wanted else None


def _service_tier(body: dict[str, Any]) -> str | None:
    tier = body.get("service_tier")
    if tier is None or tier in _TIERS:
        return tier
    raise RequestInvalid(
        f"Invalid value: '{tier}'. Supported values are: 'auto', 'default', 'flex', 'scale', "
        "and 'priority'.",
        param="service_tier",
        code="invalid_value",
    )
