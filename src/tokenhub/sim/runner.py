"""Programmatic entry point: start a simulator on a port, use it, stop it cleanly."""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tokenhub.sim.scenario import ModelSpec, Override, Scenario, ToolCallSpec, default_scenario
from tokenhub.sim.server import create_sim_app
from tokenhub.sim.state import Call, ReceivedRequest, SimState, StreamRecord
from tokenhub.sim.thinking import redacted_data, sign_thinking

SHUTDOWN_TIMEOUT_S = 1.0
"""How long shutdown waits for in-flight answers before cancelling them."""

CLI_MAX_RECEIVED = 10_000
"""A long-running ``tokenhub sim`` keeps only this many recent requests."""


class Simulator:
    """A running simulator: its address, per-provider base URLs, record and queue."""

    def __init__(self, state: SimState, url: str) -> None:
        self.state = state
        self.url = url

    @property
    def scenario(self) -> Scenario:
        """The scenario being served."""
        return self.state.scenario

    def base_url(self, provider: str) -> str:
        """The SDK base URL: ``{url}/{name}/v1`` (openai, vllm) or ``{url}/{name}`` (anthropic).

        The OpenAI SDK appends ``/chat/completions`` to its base URL, the Anthropic SDK
        appends ``/v1/messages``; these values make both land on the simulator's routes.
        """
        spec = self.scenario.provider(provider)
        root = f"{self.url}/{spec.name}"
        return root if spec.type == "anthropic" else f"{root}/v1"

    def enqueue(
        self,
        provider: str,
        model: str | None = None,
        *,
        reply: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
        finish_reason: str | None = None,
        thinking: str | None = None,
        status: int | None = None,
        error_type: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        hang: bool = False,
        delay_ms: float = 0.0,
        fail_after_events: int | None = None,
        drop_after_events: int | None = None,
    ) -> None:
        """Make the next request to ``provider`` (and ``model``, if given) get exactly this.

        ``status`` alone sends that provider's real error for the status; ``error_type``
        ``"context_length_exceeded"`` sends its real context-overflow 400. For a streamed
        request, ``fail_after_events=N`` sends N content events and then the provider's
        in-stream error (``error_type``/``message`` override its type and text);
        ``drop_after_events=N`` sends N and cuts the connection without a terminator.
        ``thinking`` is the reasoning text, sent when the request or model asks for reasoning.
        """
        override = Override.model_validate(
            {
                "model": model,
                "reply": reply,
                "tool_calls": [ToolCallSpec.model_validate(t) for t in tool_calls or ()],
                "finish_reason": finish_reason,
                "thinking": thinking,
                "status": status,
                "error_type": error_type,
                "message": message,
                "retry_after": retry_after,
                "hang": hang,
                "delay_ms": delay_ms,
                "fail_after_events": fail_after_events,
                "drop_after_events": drop_after_events,
            }
        )
        self.state.enqueue(provider, override)

    @property
    def received(self) -> list[ReceivedRequest]:
        """Every request received since start or the last reset, oldest first."""
        return list(self.state.received)

    @property
    def streams(self) -> list[StreamRecord]:
        """Every streamed answer since start or the last reset, oldest first, as it went."""
        return list(self.state.streams)

    def received_by(self, provider: str) -> list[ReceivedRequest]:
        """The received requests for one provider."""
        return self.state.received_by(provider)

    def calls_to(self, provider: str, model: str | None = None) -> list[Call]:
        """The chat requests one provider (and model) answered, with outcome and times."""
        return self.state.calls_to(provider, model)

    def set_model(self, provider: str, model: str, **changes: Any) -> ModelSpec:
        """Change a model's behaviour from its next request on (e.g. ``error_rate={503: 1.0}``).

        Each keyword is a ``ModelSpec`` field and replaces that field's whole value.
        """
        return self.state.set_model(provider, model, changes)

    def thinking_signature(self, provider: str, thinking: str) -> str:
        """The signature ``provider`` (Anthropic) gives a thinking block with this text.

        For tests that build a conversation with thinking blocks the simulator accepts;
        any other string, or this one on changed text, is rejected as the real API does.
        """
        return sign_thinking(self.state.thinking_key(provider), thinking)

    def redacted_thinking_data(self, provider: str, nonce: bytes = b"test") -> str:
        """A ``redacted_thinking`` ``data`` value ``provider`` (Anthropic) accepts."""
        return redacted_data(self.state.thinking_key(provider), nonce)

    def reset(self) -> None:
        """Forget requests and overrides; restart counters and seeded randomness."""
        self.state.reset()


@asynccontextmanager
async def start_simulator(
    scenario: Scenario | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    max_received: int | None = None,
    ssl_context: ssl.SSLContext | None = None,
    url_host: str | None = None,
) -> AsyncIterator[Simulator]:
    """Serve ``scenario`` (default: ``default_scenario()``) on ``host:port`` until exit.

    ``max_received`` bounds the request record (None: keep all; 0: keep none).
    ``ssl_context`` serves https (an upstream behind an internal CA, say); ``url_host``
    names the host in the base URLs (default: the bound address), e.g. the name the
    certificate is for.
    """
    scenario = scenario or default_scenario()
    state = SimState(scenario, max_received=max_received)
    runner = web.AppRunner(
        create_sim_app(scenario, state=state),
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        scheme = "http" if ssl_context is None else "https"
        name = url_host or _url_host(bound_host)
        yield Simulator(state, f"{scheme}://{name}:{bound_port}")
    finally:
        await runner.cleanup()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve_until_signalled(
    scenario: Scenario,
    host: str,
    port: int,
    on_ready: Callable[[Simulator], None],
    *,
    max_received: int | None = CLI_MAX_RECEIVED,
) -> None:
    """Serve until SIGINT or SIGTERM, calling ``on_ready`` once the port is bound."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with start_simulator(scenario, host, port, max_received=max_received) as sim:
            on_ready(sim)
            await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
