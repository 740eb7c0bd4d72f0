"""Retries, backoff, deadline-bounded timeouts and SSE framing."""

from __future__ import annotations

import asyncio
import random
import socket
import time

import pytest
from tests.providers.support import OPENAI_KEY, ask, model, options

from tokenhub.clock import FakeClock
from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.http import (
    Retrier,
    RetryPolicy,
    ServerSentEvent,
    SseParser,
    attempt_timeout,
    backoff_s,
)
from tokenhub.providers.openai import OpenAIAdapter
from tokenhub.schemas import ProviderConfig

GPT = model("gpt-4o")


class MaxRandom(random.Random):
    """A ``random`` whose ``uniform`` always returns the top of the range."""

    def uniform(self, a: float, b: float) -> float:  # noqa: ARG002 - the signature of random.uniform
        """The upper bound."""
        return b


def keyed(clock, seconds=10.0, **extra):
    """Options with the right OpenAI key and a deadline ``seconds`` away."""
    return options(clock, seconds, api_key=OPENAI_KEY, **extra)


async def test_transient_500_then_success_retries_once(make_adapter, fake_clock, sim, sleeps):
    """A 500 followed by success: one backoff sleep, one retry, a good result."""
    adapter = make_adapter("openai")
    sim.enqueue("openai", status=500)
    result = await adapter.complete(ask(), GPT, keyed(fake_clock))
    assert result.retries == 1
    assert result.response.message.text()
    assert len(sim.received) == 2
    assert len(sleeps.delays) == 1
    assert 0 <= sleeps.delays[0] <= 0.25


async def test_three_500s_exhaust_two_retries(make_adapter, fake_clock, sim, sleeps):
    """Three 500s with max_retries=2: a transient error that counts its two retries."""
    adapter = make_adapter("openai")
    for _ in range(3):
        sim.enqueue("openai", status=500)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, keyed(fake_clock, max_retries=2))
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.retries == 2
    assert caught.value.upstream_status == 500
    assert len(sim.received) == 3
    assert len(sleeps.delays) == 2
    assert sleeps.delays[1] <= 0.5  # the second backoff's ceiling is base * 2


async def test_stream_open_is_retried_too(make_adapter, fake_clock, sim):
    """A transient failure before the first event of a stream is retried."""
    adapter = make_adapter("openai")
    sim.enqueue("openai", status=503)
    handle = await adapter.open_stream(ask(), GPT, keyed(fake_clock))
    events = [event async for event in handle.events()]
    assert handle.retries == 1
    assert events[-1].finish_reason == "stop"


async def test_no_sleep_past_the_deadline(make_adapter, fake_clock, sim, sleeps):
    """When the backoff would end past the deadline, the error is raised without sleeping."""
    adapter = make_adapter("openai", policy=RetryPolicy(base_s=1.0), rng=MaxRandom())
    sim.enqueue("openai", status=500)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, keyed(fake_clock, seconds=0.9))
    assert caught.value.retries == 0
    assert sleeps.delays == []
    assert len(sim.received) == 1


async def test_backoffs_stop_before_the_deadline(fake_clock, sleeps):
    """Sleeps are taken while they fit and never carry the clock to the deadline."""
    retrier = Retrier(
        fake_clock,
        RetryPolicy(max_retries=10, base_s=1.0, cap_s=8.0),
        sleep=sleeps,
        rng=MaxRandom(),
    )
    deadline = fake_clock.monotonic() + 10.0

    async def always_fails() -> None:
        raise ProviderError(ErrorKind.TRANSIENT, "down")

    with pytest.raises(ProviderError) as caught:
        await retrier.run(always_fails, deadline=deadline, max_retries=None)
    assert sleeps.delays == [1.0, 2.0, 4.0]  # 8.0 more would reach the deadline
    assert fake_clock.monotonic() < deadline
    assert caught.value.retries == 3


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, ErrorKind.RATE_LIMITED), (401, ErrorKind.AUTH), (400, ErrorKind.FATAL)],
)
async def test_only_transient_errors_are_retried(
    make_adapter, fake_clock, sim, sleeps, status, kind
):
    """Rate limits, auth failures and fatal errors go straight back: one request, no sleep."""
    adapter = make_adapter("openai")
    sim.enqueue("openai", status=status)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, keyed(fake_clock))
    assert caught.value.kind is kind
    assert len(sim.received) == 1
    assert sleeps.delays == []


async def test_hang_times_out_within_the_deadline(make_adapter, real_clock, sim):
    """An upstream that never answers gives a transient timeout once the deadline is up."""
    adapter = make_adapter("openai", clock=real_clock, timeout_s=30.0)
    sim.enqueue("openai", hang=True)
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, keyed(real_clock, seconds=0.3))
    elapsed = time.monotonic() - started
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert "timed out" in caught.value.message
    # Not before the deadline; and far from the provider's 30 s timeout, which would end
    # the wait if the deadline were ignored (10 s is ample on a loaded machine).
    assert 0.25 <= elapsed < 10.0


async def test_first_byte_timeout_is_retried(make_adapter, real_clock, sim, sleeps):
    """``timeout_s`` bounds the wait for the first byte; the retry then succeeds."""
    adapter = make_adapter("openai", clock=real_clock, timeout_s=0.2)
    sim.enqueue("openai", hang=True)
    started = time.monotonic()
    result = await adapter.complete(ask(), GPT, keyed(real_clock, seconds=30))
    assert result.retries == 1
    # Without the first-byte timeout the hang would last until the 30 s deadline.
    assert time.monotonic() - started < 10.0
    assert len(sleeps.delays) == 1


async def test_stream_hang_times_out(make_adapter, real_clock, sim):
    """A stream whose upstream never answers fails ``open_stream`` as a transient timeout."""
    adapter = make_adapter("openai", clock=real_clock)
    sim.enqueue("openai", hang=True)
    with pytest.raises(ProviderError) as caught:
        await adapter.open_stream(ask(), GPT, keyed(real_clock, seconds=0.3))
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert adapter.endpoints()[0].in_flight == 0


async def test_past_deadline_makes_no_call(make_adapter, fake_clock, sim):
    """A deadline already gone raises a transient error without contacting the upstream."""
    adapter = make_adapter("openai")
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, keyed(fake_clock, seconds=-1))
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.provider == "openai"
    assert sim.received == []


async def test_connection_refused_is_transient(client, fake_clock, sleeps):
    """Nothing listening: a transient connection error, retried, then raised."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ProviderConfig(id="gone", type="openai", base_url=f"http://127.0.0.1:{port}/v1")
    adapter = OpenAIAdapter(config, client, fake_clock, sleep=sleeps)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), GPT, options(fake_clock))
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.message.startswith("connection failed")
    assert caught.value.retries == 2


def test_attempt_timeout_is_bounded_by_the_deadline():
    """Connect, first byte and total never exceed the time left."""
    timeout = attempt_timeout(100.0, 99.5, first_byte_s=30.0, connect_s=10.0)
    assert (timeout.total, timeout.connect, timeout.read) == (0.5, 0.5, 0.5)
    roomy = attempt_timeout(100.0, 40.0, first_byte_s=30.0, connect_s=10.0)
    assert (roomy.total, roomy.connect, roomy.read) == (60.0, 10.0, 30.0)


def test_attempt_timeout_after_the_deadline_raises():
    """No time left is a transient error before any call is made."""
    with pytest.raises(ProviderError, match="deadline exceeded") as caught:
        attempt_timeout(10.0, 10.0, first_byte_s=1.0, connect_s=1.0)
    assert caught.value.kind is ErrorKind.TRANSIENT


def test_backoff_is_full_jitter_with_a_cap():
    """Backoff n is uniform in [0, min(cap, base * 2**n)]."""
    policy = RetryPolicy(base_s=0.5, cap_s=3.0)
    rng = random.Random(1)
    for attempt in range(8):
        ceiling = min(3.0, 0.5 * 2**attempt)
        delays = [backoff_s(attempt, policy, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the range, not pinned low
    assert backoff_s(9, policy, MaxRandom()) == 3.0


async def test_retrier_counts_zero_retries_on_success():
    """A first-time success reports zero retries."""
    retrier = Retrier(FakeClock())

    async def works() -> str:
        return "ok"

    assert await retrier.run(works, deadline=2000.0, max_retries=3) == ("ok", 0)


def test_sse_parser_frames_events_across_chunks():
    """Events split anywhere across chunks come out whole, with event names and CRLF."""
    parser = SseParser()
    stream = b'event: message_start\r\ndata: {"a":1}\r\n\r\n: comment\n\ndata: x\ndata:y\n\n'
    events = []
    for i in range(len(stream)):
        events += parser.feed(stream[i : i + 1])
    assert events == [
        ServerSentEvent("message_start", b'{"a":1}'),
        ServerSentEvent(None, b"x\ny"),
    ]


def test_sse_parser_keeps_a_partial_event_pending():
    """An event without its blank line is not emitted until the blank line arrives."""
    parser = SseParser()
    assert parser.feed(b"data: [DONE]\n") == []
    assert parser.feed(b"\n") == [ServerSentEvent(None, b"[DONE]")]
    assert parser.feed(b"id: 7\nretry: 10\n\n") == []


async def test_cancelled_call_frees_its_endpoint(make_adapter, real_clock, sim):
    """A call cancelled by its caller releases the endpoint without counting a failure."""
    adapter = make_adapter("openai", clock=real_clock)
    sim.enqueue("openai", hang=True)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(adapter.complete(ask(), GPT, keyed(real_clock)), 0.2)
    [state] = adapter.endpoints()
    assert (state.in_flight, state.consecutive_failures, state.healthy) == (0, 0, True)
