"""Helpers shared by the wire translators: strict field checks, data URLs, JSON text, warnings.

Checks raise :class:`InvalidRequestError` naming the offending field in the
``messages[1].content[0].text`` style. The message text follows OpenAI's wording
("Invalid type for ...: expected ..., but got ... instead"), which reads well for either API.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NoReturn, TypeVar

import orjson

from tokenhub.errors import InvalidRequestError
from tokenhub.types import FieldNote

_Choice = TypeVar("_Choice", bound=str)

TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
"""Function and schema names as OpenAI constrains them."""

_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a decimal",
    bool: "a boolean",
    list: "an array",
    dict: "an object",
    type(None): "null",
}


def fail(message: str, param: str) -> NoReturn:
    """Reject the request, naming ``param``."""
    raise InvalidRequestError(message, param=param)


def type_error(param: str, expected: str, value: Any) -> NoReturn:
    """Reject a field whose JSON type is wrong."""
    got = _TYPE_NAMES.get(type(value), "an unsupported value")
    fail(f"Invalid type for '{param}': expected {expected}, but got {got} instead.", param)


def expect_dict(value: Any, param: str) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        type_error(param, "an object", value)
    return value


def expect_list(value: Any, param: str, *, allow_empty: bool = True) -> list[Any]:
    """Return ``value`` if it is a JSON array (non-empty unless ``allow_empty``)."""
    if not isinstance(value, list):
        type_error(param, "an array", value)
    if not value and not allow_empty:
        fail(f"Invalid '{param}': empty array. Expected an array with minimum length 1.", param)
    return value


def expect_str(value: Any, param: str, *, allow_empty: bool = True) -> str:
    """Return ``value`` if it is a string (non-empty unless ``allow_empty``)."""
    if not isinstance(value, str):
        type_error(param, "a string", value)
    if not value and not allow_empty:
        fail(f"Invalid '{param}': empty string. Expected a non-empty string.", param)
    return value


def optional_str(obj: dict[str, Any], key: str, param: str) -> str | None:
    """Return ``obj[key]`` if it is a string, ``None`` if absent or null."""
    value = obj.get(key)
    return None if value is None else expect_str(value, param)


def optional_bool(obj: dict[str, Any], key: str, param: str) -> bool | None:
    """Return ``obj[key]`` if it is a boolean, ``None`` if absent or null."""
    value = obj.get(key)
    if value is None or isinstance(value, bool):
        return value
    type_error(param, "a boolean", value)


def optional_int(obj: dict[str, Any], key: str, param: str, minimum: int) -> int | None:
    """Return ``obj[key]`` if it is an integer ``>= minimum``, ``None`` if absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        type_error(param, "an integer", value)
    if value < minimum:
        fail(
            f"Invalid '{param}': integer below minimum value. "
            f"Expected a value >= {minimum}, but got {value} instead.",
            param,
        )
    return value


def optional_number(
    obj: dict[str, Any], key: str, param: str, top: float, bottom: float = 0
) -> float | None:
    """Return ``obj[key]`` if it is a number in ``[bottom, top]``, ``None`` if absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        type_error(param, "a number", value)
    if not bottom <= value <= top:
        fail(f"Invalid '{param}': expected a value between {bottom} and {top}, got {value}.", param)
    return float(value)


def expect_choice(value: Any, param: str, allowed: tuple[_Choice, ...]) -> _Choice:
    """Return ``value`` if it is one of ``allowed``."""
    if value in allowed:
        return value  # type: ignore[no-any-return]  # membership proves the literal type
    listed = ", ".join(repr(a) for a in allowed)
    shown = repr(value)[:40]  # never echo a whole message back
    fail(f"Invalid value for '{param}': {shown}. Supported values are: {listed}.", param)


def expect_name(value: Any, param: str, pattern: re.Pattern[str] = TOOL_NAME) -> str:
    """Return ``value`` if it is a valid function or schema name."""
    name = expect_str(value, param)
    if pattern.fullmatch(name) is None:
        fail(
            f"Invalid '{param}': string does not match pattern. "
            f"Expected a string that matches the pattern '^{pattern.pattern}$'.",
            param,
        )
    return name


def split_data_url(url: str) -> tuple[str, str] | None:
    """Split ``data:<media type>;base64,<data>`` into (media type, data); else ``None``."""
    if not url.startswith("data:"):
        return None
    header, sep, data = url.partition(",")
    if not sep or not header.endswith(";base64"):
        return None
    return header[5:-7], data


def dumps(value: Any) -> str:
    """Serialise JSON compactly, as providers do for tool arguments."""
    return orjson.dumps(value).decode()


def loads_object(text: str) -> dict[str, Any] | None:
    """Parse ``text`` as a JSON object; ``None`` if it is not one (empty text is ``{}``)."""
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


WARNINGS_FIELD = "tokenhub"
"""The member of an answer (or its last stream event) that lists ``{"warnings": [...]}``."""


def warnings_member(notes: Sequence[FieldNote]) -> dict[str, Any]:
    """``{"tokenhub": {"warnings": [...]}}`` for ``notes``; empty when there are none."""
    if not notes:
        return {}
    return {WARNINGS_FIELD: {"warnings": [str(note) for note in notes]}}


def warning_comments(notes: Sequence[FieldNote]) -> bytes:
    """One SSE comment per note, ``: tokenhub-warning <field>: <reason>``: SDKs skip them."""
    lines = (" ".join(str(note).splitlines()) for note in notes)
    return b"".join(b": tokenhub-warning " + line.encode() + b"\n\n" for line in lines)


def stream_flag(body: dict[str, Any], option: str) -> bool:
    """``stream``, and ``stream_options`` only beside it, with its boolean ``option`` checked.

    OpenAI's rule on both of its APIs (Chat Completions and Responses).
    """
    stream = optional_bool(body, "stream", "stream") or False
    options = body.get("stream_options")
    if options is not None:
        if not stream:
            fail(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
            )
        expect_dict(options, "stream_options")
        optional_bool(options, option, f"stream_options.{option}")
    return stream
