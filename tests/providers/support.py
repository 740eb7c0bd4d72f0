"""Helpers shared by the adapter tests: the scenario, requests, options, a recording sleep."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tokenhub.clock import Clock, FakeClock
from tokenhub.providers.adapter import HttpAdapter
from tokenhub.providers.anthropic import AnthropicAdapter
from tokenhub.providers.base import CallOptions
from tokenhub.providers.openai import OpenAIAdapter
from tokenhub.providers.vllm import VLLMAdapter
from tokenhub.schemas import ModelConfig
from tokenhub.sim import Scenario
from tokenhub.types import ChatRequest, Message, TextPart, ToolSpec

OPENAI_KEY = "sk-test-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-0123456789abcdef"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
WEATHER = ToolSpec(
    "get_weather",
    "Current weather for a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
ADAPTERS: dict[str, type[HttpAdapter]] = {
    "openai": OpenAIAdapter,
    "anthropic": AnthropicAdapter,
    "vllm": VLLMAdapter,
}
_WEATHER_RULE = {
    "match": {"prompt": "(?i)weather"},
    "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
}


def _model(model_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": model_id, "context_window": 4000, "max_output_tokens": 1000, **extra}


def scenario() -> Scenario:
    """Keyed OpenAI and Anthropic, two vLLM replicas, keyless vendors for header checks."""
    limits = {"requests_per_minute": 50, "tokens_per_minute": 100_000}
    providers = [
        {
            "name": "openai",
            "type": "openai",
            "api_key": OPENAI_KEY,
            "models": [_model("gpt-4o", rate_limit=limits), _model("gpt-4o-mini")],
            "responses": [_WEATHER_RULE],
        },
        {
            "name": "anthropic",
            "type": "anthropic",
            "api_key": ANTHROPIC_KEY,
            "models": [_model("claude-haiku-4-5", rate_limit=limits)],
            "responses": [_WEATHER_RULE],
        },
        {"name": "vllm-a", "type": "vllm", "models": [_model(LLAMA)], "responses": [_WEATHER_RULE]},
        {"name": "vllm-b", "type": "vllm", "models": [_model(LLAMA)], "responses": [_WEATHER_RULE]},
        {"name": "vllm-keyed", "type": "vllm", "api_key": "vllm-secret", "models": [_model(LLAMA)]},
        {"name": "groq", "type": "openai", "models": [_model("llama-3.3-70b-versatile")]},
    ]
    return Scenario.model_validate({"seed": 3, "providers": providers})


@dataclass
class RecordingSleep:
    """An injected ``sleep`` that records each delay and moves a fake clock by it."""

    clock: FakeClock
    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        """Record and advance instead of waiting."""
        self.delays.append(seconds)
        self.clock.advance(seconds)


def options(clock: Clock, seconds: float = 10.0, **extra: Any) -> CallOptions:
    """Call options with a deadline ``seconds`` from now on ``clock``."""
    return CallOptions(deadline=clock.monotonic() + seconds, **extra)


def ask(text: str = "hello there", **extra: Any) -> ChatRequest:
    """A one-message user request."""
    return ChatRequest(model="any", messages=[Message("user", [TextPart(text)])], **extra)


def model(model_id: str, provider: str = "p", **extra: Any) -> ModelConfig:
    """A model config for ``model_id``."""
    extra.setdefault("max_output_tokens", 500)
    return ModelConfig(id=model_id, provider=provider, **extra)


async def collect(handle: Any, into: list[Any]) -> None:
    """Append each event of a stream handle to ``into`` (kept when the stream raises)."""
    async for event in handle.events():
        into.append(event)  # noqa: PERF401 - a comprehension would lose the events on error
