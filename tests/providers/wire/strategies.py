"""Hypothesis strategies for canonical values that each wire format can represent exactly.

``fmt`` is ``"openai"`` or ``"anthropic"``; what differs is documented where it differs.
"""

from __future__ import annotations

import itertools
import string
from typing import Any

import orjson
from hypothesis import settings
from hypothesis import strategies as st

from tokenhub.types import (
    ChatRequest,
    ChatResponse,
    ContentPart,
    ImagePart,
    Message,
    ResponseFormat,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolChoice,
    ToolSpec,
    Usage,
)

FAST = settings(max_examples=100, deadline=None)
"""Enough examples to find mapping bugs while the whole wire suite stays well under 20 s."""

OPENAI = "openai"
ANTHROPIC = "anthropic"
MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

ids = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=12)
names = st.text(string.ascii_letters + string.digits + "_-", min_size=1, max_size=24)
texts = st.text(min_size=1, max_size=16)
counts = st.integers(0, 10**6)

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
object_arguments = json_objects.map(lambda o: orjson.dumps(o).decode())
"""Compact JSON objects: the only tool arguments Anthropic can carry (it stores ``input``)."""

schemas = st.fixed_dictionaries(
    {"type": st.just("object")},
    optional={"properties": st.dictionaries(names, st.just({"type": "string"}), max_size=2)},
)


def arguments(fmt: str) -> st.SearchStrategy[str]:
    """OpenAI carries any argument text; Anthropic only JSON objects."""
    return st.text(max_size=24) if fmt == OPENAI else object_arguments


def images(fmt: str) -> st.SearchStrategy[ImagePart]:
    """Https or base64 data URLs; only OpenAI has ``detail``."""
    data = st.text(string.ascii_letters + string.digits + "+/", min_size=4, max_size=12)
    data_urls = st.builds(lambda m, d: f"data:{m};base64,{d}", st.sampled_from(MEDIA_TYPES), data)
    urls = names.map(lambda n: f"https://example.com/{n}.png") | data_urls
    details = st.sampled_from([None, "auto", "low", "high"]) if fmt == OPENAI else st.none()
    return st.builds(ImagePart, urls, details)


CACHE_CONTROLS = st.sampled_from(
    [
        None,
        {"type": "ephemeral"},
        {"type": "ephemeral", "ttl": "5m"},
        {"type": "ephemeral", "ttl": "1h"},
    ]
)


def text_parts(fmt: str, *, request: bool = False) -> st.SearchStrategy[TextPart]:
    """Anthropic rejects empty text blocks; OpenAI accepts them.

    ``request``: Anthropic request blocks may also carry a prompt-cache breakpoint.
    """
    if fmt != ANTHROPIC:
        return st.builds(TextPart, st.text(max_size=16))
    cache = CACHE_CONTROLS if request else st.none()
    return st.builds(TextPart, texts, cache_control=cache)


def parts(fmt: str) -> st.SearchStrategy[ContentPart]:
    """A text or image part (of a request)."""
    return text_parts(fmt, request=True) | images(fmt)


def tool_calls(fmt: str) -> st.SearchStrategy[list[ToolCall]]:
    """Tool calls of one assistant message, ids unique."""
    call = st.builds(ToolCall, ids, names, arguments(fmt))
    return st.lists(call, max_size=3, unique_by=lambda c: c.id)


def _openai_name() -> st.SearchStrategy[str | None]:
    return st.none() | names


@st.composite
def openai_messages(draw: st.DrawFn, *, object_args: bool = False) -> list[Message]:
    """OpenAI conversations: any role order, every tool call answered right after it."""
    fmt_args = ANTHROPIC if object_args else OPENAI
    out: list[Message] = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["system", "user", "assistant", "tools"]))
        if kind == "system":
            content = draw(st.lists(text_parts(OPENAI), max_size=2))
            out.append(Message("system", content, name=draw(_openai_name())))
        elif kind == "user":
            content = draw(st.lists(parts(OPENAI), max_size=3))
            out.append(Message("user", content, name=draw(_openai_name())))
        else:
            out.extend(draw(_openai_assistant(kind == "tools", fmt_args)))
    return out


@st.composite
def _openai_assistant(draw: st.DrawFn, with_tools: bool, fmt_args: str) -> list[Message]:
    calls = draw(tool_calls(fmt_args).filter(bool)) if with_tools else []
    content = draw(st.lists(text_parts(OPENAI), max_size=2))
    out = [Message("assistant", content, tool_calls=calls, name=draw(_openai_name()))]
    for call in calls:
        result = draw(st.lists(text_parts(OPENAI), max_size=2))
        out.append(Message("tool", result, tool_call_id=call.id))
    return out


@st.composite
def anthropic_messages(draw: st.DrawFn) -> list[Message]:
    """Anthropic conversations: one leading system, alternating turns, results first."""
    out: list[Message] = []
    if draw(st.booleans()):
        system = st.lists(text_parts(ANTHROPIC, request=True), min_size=1, max_size=2)
        out.append(Message("system", draw(system)))
    asked: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        out.extend(draw(_anthropic_results(asked)))
        if not asked or draw(st.booleans()):
            out.append(Message("user", draw(st.lists(parts(ANTHROPIC), min_size=1, max_size=3))))
        calls = draw(tool_calls(ANTHROPIC))
        texts_ = text_parts(ANTHROPIC, request=True)
        content = draw(st.lists(texts_, min_size=0 if calls else 1, max_size=2))
        out.append(Message("assistant", content, tool_calls=calls))
        asked = [c.id for c in calls]
    out.extend(draw(_anthropic_results(asked)))
    return out


@st.composite
def _anthropic_results(draw: st.DrawFn, asked: list[str]) -> list[Message]:
    return [
        Message(
            "tool",
            draw(st.lists(parts(ANTHROPIC), max_size=2)),
            tool_call_id=call_id,
            is_error=draw(st.booleans()),
        )
        for call_id in asked
    ]


def _tool_specs(fmt: str) -> st.SearchStrategy[list[ToolSpec]]:
    params = (schemas | st.just({})) if fmt == OPENAI else schemas
    cache = CACHE_CONTROLS if fmt == ANTHROPIC else st.none()
    spec = st.builds(ToolSpec, names, st.none() | texts, params, cache)
    return st.lists(spec, max_size=3, unique_by=lambda t: t.name)


def _tool_choice(tools: list[ToolSpec]) -> st.SearchStrategy[ToolChoice | None]:
    if not tools:
        return st.none()
    modes = st.sampled_from(["auto", "none", "required"]).map(ToolChoice)
    named = st.sampled_from([t.name for t in tools]).map(lambda n: ToolChoice("tool", n))
    return st.none() | modes | named


def _extras(
    fmt: str, tools: list[ToolSpec], choice: ToolChoice | None
) -> st.SearchStrategy[dict[str, Any]]:
    """The extra sampling and tool fields each format carries exactly.

    OpenAI: seed, penalties, effort and the parallel flag. Anthropic: only the flag turned
    off, on an explicit tool choice other than none (without one, tokenhub sends
    ``{"type": "auto"}`` to carry the flag, which reads back as an explicit auto).
    """
    if fmt == ANTHROPIC:
        can_disable = bool(tools) and choice is not None and choice.mode != "none"
        flag = st.none() | st.just(False) if can_disable else st.none()
        return st.fixed_dictionaries({"parallel_tool_calls": flag})
    penalty = st.none() | st.floats(-2, 2)
    return st.fixed_dictionaries(
        {
            "seed": st.none() | st.integers(-(2**63), 2**63 - 1),
            "presence_penalty": penalty,
            "frequency_penalty": penalty,
            "reasoning_effort": st.none() | st.sampled_from(["minimal", "low", "medium", "high"]),
            "parallel_tool_calls": st.none() | st.booleans() if tools else st.none(),
        }
    )


def _response_format(fmt: str) -> st.SearchStrategy[ResponseFormat | None]:
    if fmt == ANTHROPIC:
        held = st.builds(ResponseFormat, st.just("json_schema"), schemas, strict=st.just(True))
        return st.none() | held  # Anthropic always holds the answer to the schema
    simple = st.sampled_from(["text", "json_object"]).map(ResponseFormat)
    schema = st.builds(
        ResponseFormat,
        st.just("json_schema"),
        st.none() | schemas,
        names,
        st.sampled_from([None, True, False]),
    )
    return st.none() | simple | schema


@st.composite
def requests(draw: st.DrawFn, fmt: str, *, object_args: bool = False) -> ChatRequest:
    """A canonical request the format can carry exactly."""
    tools = draw(_tool_specs(fmt))
    tool_choice = draw(_tool_choice(tools))
    openai = fmt == OPENAI
    unit = st.floats(0, 1)
    return ChatRequest(
        model=draw(names),
        messages=draw(openai_messages(object_args=object_args) if openai else anthropic_messages()),
        max_tokens=draw(st.none() | st.integers(1, 10**5))
        if openai
        else draw(st.integers(0, 10**5)),
        temperature=draw(st.none() | (st.floats(0, 2) if openai else unit)),
        top_p=draw(st.none() | unit),
        stop=draw(st.lists(texts, max_size=4 if openai else 6)),
        tools=tools,
        tool_choice=tool_choice,
        response_format=draw(_response_format(fmt)),
        stream=draw(st.booleans()),
        user=draw(st.none() | texts),
        **draw(_extras(fmt, tools, tool_choice)),
    )


@st.composite
def usages(draw: st.DrawFn, fmt: str) -> Usage:
    """Token counts: OpenAI reports cache reads inside the prompt; Anthropic reads and writes."""
    total = draw(counts)
    read = draw(st.integers(0, total))
    write = 0 if fmt == OPENAI else draw(st.integers(0, total - read))
    return Usage(total, draw(counts), cache_read_tokens=read, cache_write_tokens=write)


@st.composite
def responses(draw: st.DrawFn, fmt: str) -> ChatResponse:
    """A canonical response: OpenAI has one text string; only Anthropic names stop sequences."""
    openai = fmt == OPENAI
    content = st.lists(text_parts(ANTHROPIC), max_size=1 if openai else 3)
    finish = draw(st.sampled_from(["stop", "length", "tool_calls", "content_filter"]))
    stop_sequence = None if openai or finish != "stop" else draw(st.none() | texts)
    return ChatResponse(
        id=draw(ids),
        model=draw(names),
        message=Message("assistant", draw(content), tool_calls=draw(tool_calls(fmt))),
        finish_reason=finish,
        usage=draw(usages(fmt)),
        created=draw(counts) if openai else 0,
        stop_sequence=stop_sequence,
    )


@st.composite
def stream_events(draw: st.DrawFn, fmt: str) -> list[StreamEvent]:
    """StreamStart, text and tool-call events in any order, StreamEnd.

    OpenAI streams carry no input count at the start; Anthropic ones no timestamp.
    """
    openai = fmt == OPENAI
    events: list[StreamEvent] = [
        StreamStart(
            draw(ids), draw(names), draw(counts) if openai else 0, 0 if openai else draw(counts)
        )
    ]
    started = 0
    for step in draw(st.lists(st.sampled_from(["text", "tool", "args"]), max_size=12)):
        if step == "text":
            events.append(TextDelta(draw(texts)))
        elif step == "tool":
            events.append(ToolCallStart(started, draw(ids), draw(names)))
            started += 1
        elif started:
            events.append(ToolCallDelta(draw(st.integers(0, started - 1)), draw(texts)))
    events.append(draw(_stream_end(fmt)))
    return events


@st.composite
def _stream_end(draw: st.DrawFn, fmt: str) -> StreamEnd:
    finish = draw(st.sampled_from(["stop", "length", "tool_calls", "content_filter"]))
    stop_sequence = None if fmt == OPENAI or finish != "stop" else draw(st.none() | texts)
    return StreamEnd(finish, draw(usages(fmt)), stop_sequence)


@st.composite
def sequential_stream_events(draw: st.DrawFn, fmt: str) -> list[StreamEvent]:
    """Streams as providers send them: blocks in order, tool arguments valid JSON objects."""
    events: list[StreamEvent] = [StreamStart(draw(ids), draw(names), 0, draw(counts))]
    for index in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            events.extend(TextDelta(t) for t in draw(st.lists(texts, min_size=1, max_size=3)))
        events.append(ToolCallStart(index, draw(ids), draw(names)))
        events.extend(ToolCallDelta(index, f) for f in draw(_fragments(draw(object_arguments))))
    events.append(draw(_stream_end(fmt)))
    return events


def _fragments(text: str) -> st.SearchStrategy[list[str]]:
    cuts = st.lists(st.integers(1, max(1, len(text) - 1)), max_size=3, unique=True)
    return cuts.map(lambda c: _split(text, sorted(c)))


def _split(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *[c for c in cuts if c < len(text)], len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if text[a:b]]


def as_json(body: dict[str, Any]) -> dict[str, Any]:
    """Send a body through JSON text, as it travels on the wire."""
    result: dict[str, Any] = orjson.loads(orjson.dumps(body))
    return result
