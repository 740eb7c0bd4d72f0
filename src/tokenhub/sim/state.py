"""The simulator's mutable state: providers, the record of requests, pending overrides."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tokenhub.sim.anthropic_wire import AnthropicWire
from tokenhub.sim.behaviour import ProviderBehaviour
from tokenhub.sim.core import Wire
from tokenhub.sim.openai_wire import OpenAIWire
from tokenhub.sim.scenario import ModelSpec, Override, ProviderSpec, Scenario
from tokenhub.sim.thinking import signing_key
from tokenhub.sim.vllm_wire import VLLMWire


@dataclass(slots=True, frozen=True)
class ReceivedRequest:
    """One request as the simulator received it; ``body`` is the parsed JSON or None.

    ``peer`` is the client's ``host:port``: requests sharing it came over one connection.
    """

    provider: str
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    timestamp: float
    peer: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Render as a JSON-safe dict (the ``/_sim/received`` format)."""
        return {
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "headers": dict(self.headers),
            "body": self.body,
            "timestamp": self.timestamp,
            "peer": self.peer,
        }


@dataclass(slots=True)
class Call:
    """One chat request a model answered, and how: what load tests count per model.

    ``outcome`` is ``reply``, ``fault``, ``hang`` or ``cut`` (a stream ended early on
    purpose); ``ended`` is None while the answer is being written, and ``completed`` says
    whether it was written to the end (False when the client left first).
    """

    provider: str
    model: str
    started: float
    outcome: str
    status: int
    stream: bool = False
    retry_after: float | None = None
    ended: float | None = None
    completed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Render as a JSON-safe dict (the ``/_sim/calls`` format)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "started": self.started,
            "outcome": self.outcome,
            "status": self.status,
            "stream": self.stream,
            "retry_after": self.retry_after,
            "ended": self.ended,
            "completed": self.completed,
        }


@dataclass(slots=True)
class StreamRecord:
    """How one streamed answer went: ``written`` of its ``total`` events, and its ending.

    ``outcome`` is ``streaming`` while it runs, then ``complete``, ``dropped`` (the
    simulator cut it, ``drop_after_events``), ``client_closed`` (the client left first)
    or ``stopped`` (the simulator shut down).
    """

    provider: str
    model: str
    total: int
    written: int = 0
    outcome: str = "streaming"

    def as_dict(self) -> dict[str, Any]:
        """Render as a JSON-safe dict (the ``/_sim/streams`` format)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "total": self.total,
            "written": self.written,
            "outcome": self.outcome,
        }


@dataclass(slots=True)
class SimProvider:
    """A served provider: its spec, its behaviour engine and its wire format."""

    spec: ProviderSpec
    behaviour: ProviderBehaviour
    wire: Wire


def make_wire(spec: ProviderSpec, seed: int, clock: Callable[[], float]) -> Wire:
    """The wire renderer for a provider's type."""
    if spec.type == "anthropic":
        return AnthropicWire(spec, seed, clock)
    if spec.type == "vllm":
        return VLLMWire(spec, seed, clock)
    return OpenAIWire(spec, seed, clock)


class SimState:
    """Everything one simulator instance knows; ``clock`` is injectable for tests.

    ``max_received`` bounds the record (oldest dropped first); None keeps every request,
    0 keeps none (for long benchmark runs).
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        clock: Callable[[], float] = time.time,
        max_received: int | None = None,
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.received: deque[ReceivedRequest] = deque(maxlen=max_received)
        self.streams: deque[StreamRecord] = deque(maxlen=max_received)
        self.calls: deque[Call] = deque(maxlen=max_received)
        self.stopping = asyncio.Event()
        self.providers: dict[str, SimProvider] = {}
        self.reset()

    def reset(self) -> None:
        """Forget received requests and overrides; restart counters and seeded RNGs."""
        self.received.clear()
        self.streams.clear()
        self.calls.clear()
        seed = self.scenario.seed
        self.providers = {
            p.name: SimProvider(p, ProviderBehaviour(p, seed), make_wire(p, seed, self.clock))
            for p in self.scenario.providers
        }

    def record(
        self,
        provider: str,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: Any,
        *,
        peer: str | None = None,
    ) -> None:
        """Append one received request to the record."""
        lowered = {k.lower(): v for k, v in headers.items()}
        received = ReceivedRequest(provider, method, path, lowered, body, self.clock(), peer)
        self.received.append(received)

    def stream_started(self, provider: str, model: str, total: int) -> StreamRecord:
        """Record a streamed answer that begins; the caller updates it as it goes."""
        record = StreamRecord(provider, model, total)
        self.streams.append(record)
        return record

    def received_by(self, provider: str) -> list[ReceivedRequest]:
        """The recorded requests sent to one provider, oldest first."""
        return [r for r in self.received if r.provider == provider]

    def enqueue(self, provider: str, override: Override) -> None:
        """Queue a one-shot answer for ``provider``; KeyError if it is not served."""
        self.providers[provider].behaviour.enqueue(override)

    def log_call(self, call: Call) -> Call:
        """Append one answered chat request to the call record and return it."""
        self.calls.append(call)
        return call

    def calls_to(self, provider: str, model: str | None = None) -> list[Call]:
        """The recorded calls to one provider (and model), oldest first."""
        return [c for c in self.calls if c.provider == provider and model in (None, c.model)]

    def thinking_key(self, provider: str) -> bytes:
        """The key ``provider`` signs thinking blocks with (KeyError if it is not served)."""
        return signing_key(self.scenario.seed, self.providers[provider].spec.thinking_key)

    def set_model(self, provider: str, model: str, changes: Mapping[str, Any]) -> ModelSpec:
        """Change a served model's behaviour from the next request on; return the new spec.

        ``changes`` are ``ModelSpec`` fields (``error_rate``, ``hang``, ``rate_limit``,
        ``ttft_ms``...), validated as in a scenario; the model's counters and seeded
        randomness carry on, so a run that switches faults on and off still replays.
        KeyError if the provider or model is not served; ValidationError for bad fields.
        """
        behaviour = self.providers[provider].behaviour.models[model]
        data = {**behaviour.spec.model_dump(), **changes, "id": model}
        behaviour.spec = ModelSpec.model_validate(data)
        return behaviour.spec
