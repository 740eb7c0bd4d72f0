"""A scripted adapter source for executor tests: per-model answers, failures, hangs, delays.

The executor is driven as the gateway drives it (``rig.make_rig``: a real ``Router``,
``CachedRouter`` and ``HealthTracker`` on a small ``Registry`` and a ``FakeClock``); only
the adapters are fake. Each model has a script, consumed one step per call; once it is
empty the model answers at once::

    rig = make_rig([model("a", weight=7), model("b", "p2")])  # (rig.py) a ranks first
    rig.source.fail("a", ErrorKind.TRANSIENT, times=2)  # a's next two calls fail
    done = await rig.complete()  # a fails, b answers
    assert rig.source.called() == ["a", "b"]

Other steps: ``hang`` (no answer: cut at the executor's first-byte timeout if it sets
one, else until cancelled), ``time_out`` (gives up at the call's deadline, as a real
adapter does), ``answer_after(seconds, retries=n)`` (answers after that much FakeClock
time, after n failed tries inside the adapter), ``empty_stream``, or any ``Step`` through
``script``.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Hashable
from dataclasses import dataclass
from typing import Literal, NoReturn

from tokenhub.clock import FakeClock
from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.base import (
    CallOptions,
    CallResult,
    EndpointState,
    ProviderAdapter,
    RateLimitSnapshot,
)
from tokenhub.registry import Registry
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import (
    ChatRequest,
    ChatResponse,
    Message,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    Usage,
)

__all__ = ["Call", "FakeAdapter", "FakeSource", "FakeStream", "Step", "answer_text"]

Action = Literal["answer", "fail", "hang", "timeout", "empty"]


@dataclass(slots=True, frozen=True)
class Step:
    """What one call of a model does: wait ``after_s`` of the FakeClock, then ``action``.

    ``fail`` raises ``ProviderError(kind)``; ``hang`` never answers (a transient timeout
    after ``CallOptions.first_byte_s`` when the executor sets one, as a real adapter's
    transport gives; otherwise it waits until cancelled); ``timeout``
    moves the clock to the call's deadline and raises a transient timeout (what a real
    adapter does with an upstream that never answers); ``empty`` opens a stream with no
    events (a plain answer for ``complete``). ``retries`` failed tries come first, each
    reported through ``CallOptions.on_retry`` (as many as ``max_retries`` allows).
    """

    action: Action = "answer"
    after_s: float = 0.0
    kind: ErrorKind = ErrorKind.TRANSIENT
    retry_after: float | None = None
    status: int | None = None
    retries: int = 0


@dataclass(slots=True)
class Call:
    """One call the executor made: to which model, with which options, and how it ended."""

    model: str
    provider: str
    options: CallOptions
    stream: bool
    outcome: str = "pending"
    """``ok``, the error kind, ``timed_out``, ``cancelled``, or ``pending`` while it runs."""
    retries: int = 0
    """The failed tries the adapter made (and reported) before the outcome."""
    error: ProviderError | None = None
    """The exception the call raised, if it failed."""


def answer_text(model_id: str) -> str:
    """The text every fake model answers with (so a test can tell who answered)."""
    return f"answer from {model_id}"


class FakeStream:
    """A stream handle with two canonical events up front and an end; records ``aclose``."""

    def __init__(
        self, model_id: str, *, empty: bool = False, latency_s: float = 0.0, retries: int = 0
    ) -> None:
        self.endpoint = "fake"
        self.ratelimit: RateLimitSnapshot | None = None
        self.retries = retries
        self.latency_s = latency_s
        self.first: list[StreamEvent] = (
            [] if empty else [StreamStart("s-1", model_id), TextDelta(answer_text(model_id))]
        )
        self.closed = False

    async def batches(self) -> AsyncGenerator[list[StreamEvent], None]:
        """The first events, then the end."""
        if self.first:
            yield list(self.first)
        yield [StreamEnd("stop", Usage(10, 5))]
        self.closed = True

    async def events(self) -> AsyncIterator[StreamEvent]:
        """The same events one at a time."""
        async for batch in self.batches():
            for event in batch:
                yield event

    async def aclose(self) -> None:
        """Release the (imaginary) connection."""
        self.closed = True


class FakeAdapter:
    """One provider's adapter: every call plays the next step of its model's script."""

    def __init__(self, source: FakeSource, config: ProviderConfig) -> None:
        self.source = source
        self.config = config

    async def complete(
        self, request: ChatRequest, model: ModelConfig, options: CallOptions
    ) -> CallResult:
        """Play the script; answer with ``answer_text``."""
        del request
        step = await self.source.play(self.config.id, model.id, options, stream=False)
        message = Message("assistant", [TextPart(answer_text(model.id))])
        response = ChatResponse("r-1", model.id, message, "stop", Usage(10, 5))
        retries = self.source.calls[-1].retries
        return CallResult(response, "fake", step.after_s, retries)

    async def open_stream(
        self, request: ChatRequest, model: ModelConfig, options: CallOptions
    ) -> FakeStream:
        """Play the script; hand out a primed stream (empty if the step says so)."""
        del request
        step = await self.source.play(self.config.id, model.id, options, stream=True)
        retries = self.source.calls[-1].retries
        handle = FakeStream(
            model.id, empty=step.action == "empty", latency_s=step.after_s, retries=retries
        )
        self.source.streams.append(handle)
        return handle

    async def list_models(self, options: CallOptions) -> list[str]:
        """Not used by the executor."""
        del options
        raise NotImplementedError

    async def probe(self, options: CallOptions) -> list[EndpointState]:
        """Not used by the executor."""
        del options
        raise NotImplementedError

    def endpoints(self) -> list[EndpointState]:
        """One healthy endpoint."""
        return [EndpointState("fake")]

    @property
    def ratelimit(self) -> RateLimitSnapshot | None:
        """No rate-limit headers are ever seen."""
        return None


class FakeSource:
    """The executor's ``AdapterSource``: fake adapters over a registry, scripted per model."""

    def __init__(self, registry: Registry, clock: FakeClock) -> None:
        self.registry = registry
        self.clock = clock
        self.scripts: dict[str, deque[Step]] = defaultdict(deque)
        self.calls: list[Call] = []
        self.streams: list[FakeStream] = []
        self.credential_problems: dict[str, str] = {}
        """Provider id -> why its credential is unusable (as the vault would say)."""
        self._adapters: dict[str, FakeAdapter] = {}

    def script(self, model_id: str, *steps: Step) -> None:
        """Append steps to a model's script."""
        self.scripts[model_id].extend(steps)

    def fail(
        self,
        model_id: str,
        kind: ErrorKind,
        *,
        times: int = 1,
        after_s: float = 0.0,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        """The model's next ``times`` calls raise ``ProviderError(kind)`` after ``after_s``."""
        step = Step("fail", after_s, kind, retry_after, status)
        self.script(model_id, *[step] * times)

    def hang(self, model_id: str, *, times: int = 1) -> None:
        """The model's next ``times`` calls never answer; they end only when cancelled."""
        self.script(model_id, *[Step("hang")] * times)

    def time_out(self, model_id: str, *, times: int = 1) -> None:
        """The model's next ``times`` calls time out at their ``CallOptions.deadline``."""
        self.script(model_id, *[Step("timeout")] * times)

    def answer_after(
        self, model_id: str, seconds: float, *, times: int = 1, retries: int = 0
    ) -> None:
        """The model's next ``times`` calls answer after ``seconds`` of the FakeClock.

        With ``retries``, each answer follows that many failed tries inside the adapter.
        """
        self.script(model_id, *[Step("answer", seconds, retries=retries)] * times)

    def empty_stream(self, model_id: str, *, times: int = 1) -> None:
        """The model's next ``times`` streams end before their first event."""
        self.script(model_id, *[Step("empty")] * times)

    def called(self) -> list[str]:
        """The model of every call, in order."""
        return [call.model for call in self.calls]

    async def play(
        self, provider_id: str, model_id: str, options: CallOptions, *, stream: bool
    ) -> Step:
        """Record the call and act out the model's next step (raising for failures)."""
        script = self.scripts[model_id]
        step = script.popleft() if script else Step()
        call = Call(model_id, provider_id, options, stream)
        self.calls.append(call)
        allowed = step.retries if options.max_retries is None else options.max_retries
        for _ in range(min(step.retries, allowed)):
            call.retries += 1
            if options.on_retry is not None:
                options.on_retry(
                    ProviderError(ErrorKind.TRANSIENT, f"scripted retry of {model_id}")
                )
        self.clock.advance(step.after_s)
        if step.action == "hang":
            await self._hang(call, options)
        if step.action == "timeout":
            self.clock.advance(max(0.0, options.deadline - self.clock.monotonic()))
            self._raise(call, Step("fail"), "timed out waiting for the answer", timed_out=True)
        if step.action == "fail":
            self._raise(call, step, f"scripted {step.kind} from {model_id}")
        call.outcome = "ok"
        return step

    async def _hang(self, call: Call, options: CallOptions) -> None:
        """No answer: cut at ``first_byte_s`` as a real adapter's transport would, if set."""
        try:
            if options.first_byte_s is None:
                await asyncio.Event().wait()
            await asyncio.sleep(options.first_byte_s)
        except asyncio.CancelledError:
            call.outcome = "cancelled"
            raise
        self.clock.advance(options.first_byte_s)
        message = f"timed out: no first byte within {options.first_byte_s:.2f} s"
        self._raise(call, Step("fail"), message, timed_out=True)

    @staticmethod
    def _raise(call: Call, step: Step, message: str, *, timed_out: bool = False) -> NoReturn:
        call.outcome = "timed_out" if timed_out else str(step.kind)
        call.error = ProviderError(
            step.kind,
            message,
            upstream_status=step.status,
            retry_after=step.retry_after,
            provider=call.provider,
            retries=call.retries,
        )
        # Real adapters raise their timeouts from the transport's TimeoutError.
        raise call.error from (TimeoutError() if timed_out else None)

    def adapter(self, provider_id: str) -> ProviderAdapter:
        """The provider's fake adapter."""
        adapter = self._adapters.get(provider_id)
        if adapter is None:
            adapter = FakeAdapter(self, self.provider(provider_id))
            self._adapters[provider_id] = adapter
        return adapter

    def credential_problem(self, provider: ProviderConfig) -> str | None:
        """What ``credential_problems`` says about the provider."""
        return self.credential_problems.get(provider.id)

    def api_key(self, provider: ProviderConfig) -> str | None:
        """A fake key naming the provider."""
        return f"key-{provider.id}"

    def provider(self, provider_id: str) -> ProviderConfig:
        """The provider's configuration from the registry."""
        return self.registry.provider(provider_id).config

    def credentials_version(self) -> Hashable:
        """Changes with ``credential_problems``."""
        return tuple(sorted(self.credential_problems.items()))
