"""The OpenAI stream relay: bytes in, the client's bytes out, usage and errors learned."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tokenhub.clock import FakeClock
from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.openai import OpenAIAdapter
from tokenhub.providers.passthrough import (
    OpenAIRelay,
    RelayEdit,
    UsageLearner,
    notable,
    split_notable,
)
from tokenhub.schemas import ProviderConfig
from tokenhub.types import StreamEnd, Usage

SECRET = "upstream-secret-0123456789"
DONE = b"data: [DONE]\n\n"
TRICKY = [
    '"model":"gpt-up"',
    '{"model": "gpt-up", "x": 1}',
    "ends in a backslash \\",
    '\\"model\\":\\"gpt-up\\"',
    '"finish_reason":"length","usage":{"prompt_tokens":9}',
    '"error": {"message": "no"}',
    "[DONE]",
    "gpt-up",
]
"""Contents that look like the members the relay edits or learns from."""


def chunk(content: str | None = None, **extra: Any) -> dict[str, Any]:
    """A chat.completion.chunk as OpenAI sends it with include_usage."""
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-up",
        "usage": None,
        "choices": [choice],
        **extra,
    }


def finish(reason: str = "stop") -> dict[str, Any]:
    """The chunk that carries the finish reason."""
    body = chunk()
    body["choices"][0]["finish_reason"] = reason
    return body


def usage_chunk() -> dict[str, Any]:
    """The usage-only chunk."""
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    return {**chunk(), "choices": [], "usage": usage}


def sse(*bodies: dict[str, Any]) -> bytes:
    """``data:`` frames for ``bodies``."""
    return b"".join(b"data: " + orjson.dumps(b) + b"\n\n" for b in bodies)


def whole_stream(*contents: str) -> bytes:
    """A complete upstream stream: content chunks, finish, usage, [DONE]."""
    return sse(*(chunk(c) for c in contents), finish(), usage_chunk()) + DONE


def parsed(raw: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of relayed bytes (``[DONE]`` left out)."""
    datas = [line[6:] for line in raw.split(b"\n") if line.startswith(b"data: ")]
    return [orjson.loads(d) for d in datas if d != b"[DONE]"]


@pytest.fixture
async def relay_for(client):
    """Build a relay whose frames go through a real OpenAI adapter's ``frame``."""
    config = ProviderConfig(id="oa", type="openai", base_url="http://127.0.0.1:9/v1")
    adapter = OpenAIAdapter(config, client, FakeClock())

    def build(*, include_usage: bool = False, upstream: str | None = "gpt-up") -> OpenAIRelay:
        edit = RelayEdit("fast", include_usage, upstream)
        return OpenAIRelay(edit, lambda event, learner: adapter.frame(event, learner, SECRET))

    return build


def relay_all(relay: OpenAIRelay, raw: bytes) -> bytes:
    """Feed ``raw`` in one read, then the end of the body."""
    out = relay.feed(raw)
    return out if relay.end or relay.error else out + relay.feed(b"")


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (sse(chunk("hi")), False),
        (sse(chunk('"finish_reason":"stop"')), False),
        (sse(finish()), True),
        (sse(usage_chunk()), True),
        (b'data: {"error": {"message": "x"}}\n\n', True),
        (DONE, True),
        (b'data: {"choices": [{"finish_reason": "stop"}]}\n\n', True),
        (b'data: {"choices": [{"finish_reason": null}]}\n\n', True),  # spaced: looked into
    ],
)
def test_notable_finds_every_frame_that_matters(frame, expected):
    """Finish reasons, usage, errors and [DONE] are notable however spaced; content is not."""
    assert notable(frame) is expected


def test_split_notable_looks_only_at_the_end():
    """A block splits into plain frames and the notable ones that end it."""
    plain = sse(chunk("a"), chunk("b"))
    ending = sse(finish(), usage_chunk()) + DONE
    assert split_notable(plain) == (plain, b"")
    assert split_notable(plain + ending) == (plain, ending)
    early = sse(finish()) + plain
    assert split_notable(early) == (b"", early)


async def test_plain_frames_pass_byte_for_byte_but_the_model(relay_for):
    """Frames are relayed unchanged except for the model member and the unasked usage nulls."""
    raw = whole_stream("Hello", " world")
    out = relay_all(relay_for(include_usage=True), raw)
    assert out == raw.replace(b'"model":"gpt-up"', b'"model":"fast"')


async def test_tricky_content_is_never_edited(relay_for):
    """Content quoting the model, usage, errors or [DONE] arrives exactly; every model is ours."""
    relay = relay_for()
    chunks = parsed(relay_all(relay, whole_stream(*TRICKY)))
    contents = [c["choices"][0]["delta"].get("content") for c in chunks]
    assert contents == [*TRICKY, None]
    assert {c["model"] for c in chunks} == {"fast"}
    assert relay.end == StreamEnd("stop", Usage(7, 3))


@pytest.mark.parametrize("upstream", ["gpt-up", None, "another-name"])
async def test_spaced_or_escaped_model_members_renamed(relay_for, upstream):
    """A member spaced or escaped otherwise than expected is renamed all the same."""
    body = orjson.dumps(chunk(TRICKY[0])).replace(b'"model":"gpt-up"', b'"model" : "gpt\\/up"')
    raw = b"data: " + body + b"\n\n" + sse(finish()) + DONE
    chunks = parsed(relay_all(relay_for(upstream=upstream), raw))
    assert {c["model"] for c in chunks} == {"fast"}
    assert chunks[0]["choices"][0]["delta"]["content"] == TRICKY[0]


async def test_unasked_usage_is_dropped_but_learned(relay_for):
    """Without include_usage the usage chunk and usage nulls go; the usage is still learned."""
    relay = relay_for(include_usage=False)
    out = relay_all(relay, whole_stream("Hi"))
    assert b'"usage"' not in out
    assert [c["choices"][0]["delta"].get("content") for c in parsed(out)] == ["Hi", None]
    assert out.endswith(DONE)
    assert relay.end == StreamEnd("stop", Usage(7, 3))


async def test_reads_split_anywhere_give_whole_frames(relay_for):
    """Fed a byte at a time, the relay emits only whole frames, the same bytes in the end."""
    raw = whole_stream(*TRICKY)
    expected = relay_all(relay_for(), raw)
    relay = relay_for()
    pieces = [relay.feed(raw[i : i + 1]) for i in range(len(raw))]
    assert all(p.endswith(b"\n\n") for p in pieces if p)
    assert b"".join(pieces) == expected
    assert relay.end == StreamEnd("stop", Usage(7, 3))


async def test_crlf_line_endings(relay_for):
    """An upstream ending its lines with CRLF is relayed with LF, frame by frame."""
    raw = whole_stream("a", "b").replace(b"\n", b"\r\n")
    relay = relay_for()
    out = b"".join(relay.feed(raw[i : i + 7]) for i in range(0, len(raw), 7))
    assert [c["choices"][0]["delta"].get("content") for c in parsed(out)] == ["a", "b", None]
    assert relay.end is not None


async def test_error_frame_after_content(relay_for):
    """An error frame stops the relay: what came before is relayed, the error is scrubbed."""
    message = {"message": f"engine died, key {SECRET}", "type": "server_error"}
    raw = sse(chunk("a"), chunk("b")) + b'data: {"error": ' + orjson.dumps(message) + b"}\n\n"
    relay = relay_for()
    out = relay.feed(raw + sse(chunk("never")))
    assert [c["choices"][0]["delta"]["content"] for c in parsed(out)] == ["a", "b"]
    assert relay.end is None
    assert relay.error is not None
    assert relay.error.kind is ErrorKind.TRANSIENT
    assert relay.error.message == "stream error server_error: engine died, key [redacted]"


async def test_body_ending_after_the_finish_reason_gets_done(relay_for):
    """A body that ends without [DONE] after a finish reason ends properly for the client."""
    relay = relay_for()
    relay.feed(sse(chunk("a"), finish()) + b'data: {"partial')
    assert relay.feed(b"") == DONE
    assert relay.end == StreamEnd("stop", Usage())


@pytest.mark.parametrize("tail", [DONE, b""])
async def test_end_without_finish_reason_is_an_error(relay_for, tail):
    """[DONE] or the end of the body before any finish reason is a transient error."""
    relay = relay_for()
    out = relay.feed(sse(chunk("a")) + tail) if tail else relay.feed(sse(chunk("a")))
    if not tail:
        assert relay.feed(b"") == b""
    assert parsed(out)[0]["choices"][0]["delta"]["content"] == "a"
    assert relay.error is not None
    assert "without a finish_reason" in relay.error.message


async def test_malformed_notable_frame_is_transient(relay_for):
    """A frame that must be read but is not JSON fails the stream as transient."""
    relay = relay_for()
    relay.feed(b'data: {"finish_reason": "stop", oops\n\n')
    assert relay.error is not None
    assert relay.error.kind is ErrorKind.TRANSIENT


def test_learner_reads_only_choice_zero_and_usage():
    """The learner takes choice 0's finish reason and the usage chunk, and flags the latter."""
    learner = UsageLearner()
    other = finish("length")
    other["choices"][0]["index"] = 1
    learner.feed(other)
    assert learner.finish_reason is None
    learner.feed(finish("tool_calls"))
    learner.feed(usage_chunk())
    assert learner.usage_only
    assert learner.finish() == [StreamEnd("tool_calls", Usage(7, 3))]
    with pytest.raises(ProviderError):
        learner.feed({"choices": 3})
