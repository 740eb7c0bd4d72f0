"""``HttpStream`` against the simulator: batches per network read, and byte relays."""

from __future__ import annotations

import orjson
import pytest
from tests.providers.support import ANTHROPIC_KEY, OPENAI_KEY, ask, model, options

from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.passthrough import RelayEdit
from tokenhub.types import StreamEnd, StreamStart, TextDelta

GPT = model("gpt-4o")
HAIKU = model("claude-haiku-4-5")
EDIT = RelayEdit("fast", include_usage=True, upstream_model="gpt-4o")


@pytest.fixture
def openai(make_adapter):
    """An adapter for the simulated OpenAI provider."""
    return make_adapter("openai")


async def open_gpt(adapter, fake_clock):
    """A primed stream from the simulated gpt-4o."""
    return await adapter.open_stream(ask(), GPT, options(fake_clock, api_key=OPENAI_KEY))


async def relayed(handle, edit: RelayEdit = EDIT) -> tuple[bytes, list]:
    """Everything a relay yields, joined, and the ends it reported."""
    pieces = [piece async for piece in handle.relay(edit)]
    return b"".join(data for data, _ in pieces), [end for _, end in pieces]


async def test_one_read_is_one_batch(openai, fake_clock):
    """An upstream that writes its whole stream at once gives one batch of every event."""
    handle = await open_gpt(openai, fake_clock)
    batches = [batch async for batch in handle.batches()]
    assert len(batches) == 1
    [events] = batches
    assert isinstance(events[0], StreamStart)
    assert any(isinstance(e, TextDelta) for e in events)
    assert isinstance(events[-1], StreamEnd)
    assert events[-1].usage.output_tokens > 0


async def test_relay_gives_the_upstream_bytes(openai, fake_clock, sim):
    """A relayed stream is the upstream's frames with tokenhub's model name; the end is last."""
    handle = await open_gpt(openai, fake_clock)
    assert handle.can_relay("openai")
    assert not handle.can_relay("anthropic")
    raw, ends = await relayed(handle)
    assert raw.endswith(b"data: [DONE]\n\n")
    chunks = [orjson.loads(line[6:]) for line in raw.split(b"\n\n")[:-2]]
    assert {c["model"] for c in chunks} == {"fast"}
    assert all(end is None for end in ends[:-1])
    assert ends[-1].finish_reason == "stop"
    assert ends[-1].usage.output_tokens == chunks[-1]["usage"]["completion_tokens"]
    assert openai.endpoints()[0].in_flight == 0


async def test_relayed_stream_frees_its_connection_for_reuse(openai, fake_clock, sim):
    """A relay read to its end leaves the keep-alive connection for the next call."""
    for _ in range(2):
        await relayed(await open_gpt(openai, fake_clock))
    assert len({r.peer for r in sim.received}) == 1


async def test_priming_decodes_only_the_first_events(openai, fake_clock):
    """Priming stops at the first events; the rest of the read is decoded only if translated."""
    handle = await open_gpt(openai, fake_clock)
    assert [type(e) for e in handle.first] == [StreamStart]
    [batch] = [batch async for batch in handle.batches()]
    assert batch[0] is handle.first[0]
    assert isinstance(batch[-1], StreamEnd)


async def test_no_relay_once_translated(openai, fake_clock):
    """Once its batches are being read, the bytes are gone: the stream cannot be relayed."""
    handle = await open_gpt(openai, fake_clock)
    assert handle.can_relay("openai")
    batches = handle.batches()
    await anext(batches)
    assert not handle.can_relay("openai")
    with pytest.raises(RuntimeError):
        await anext(aiter(handle.relay(EDIT)))
    await batches.aclose()


async def test_anthropic_streams_relay_to_anthropic_clients_only(make_adapter, fake_clock):
    """A stream in the Anthropic format relays to an Anthropic client, never an OpenAI one."""
    adapter = make_adapter("anthropic")
    handle = await adapter.open_stream(ask(), HAIKU, options(fake_clock, api_key=ANTHROPIC_KEY))
    assert handle.can_relay("anthropic")
    assert not handle.can_relay("openai")
    await handle.aclose()


async def test_relay_of_a_cut_stream_raises_transient(openai, fake_clock, sim):
    """A connection cut mid-relay raises a transient error, counted against the endpoint."""
    sim.enqueue("openai", drop_after_events=2)
    handle = await open_gpt(openai, fake_clock)
    pieces: list[bytes] = []

    async def read() -> None:
        async for data, _ in handle.relay(EDIT):
            pieces.append(data)

    with pytest.raises(ProviderError) as caught:
        await read()
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.provider == "openai"
    assert b"".join(pieces).count(b"\n\n") >= 1  # the first frames got through
    [state] = openai.endpoints()
    assert state.in_flight == 0
    assert state.consecutive_failures == 1


async def test_error_after_events_in_one_read_comes_after_them(openai, fake_clock, sim):
    """Events decoded before an error frame in the same read are delivered, then it raises."""
    sim.enqueue("openai", fail_after_events=2)
    handle = await open_gpt(openai, fake_clock)
    batches = handle.batches()
    first = await anext(batches)
    assert [type(e) for e in first] == [StreamStart, TextDelta, TextDelta]
    with pytest.raises(ProviderError):
        await anext(batches)
