"""The scenario: which simulated providers and models to serve and how each behaves.

A scenario is plain data (pydantic models) so tests can build one inline, the CLI can
load one from YAML, and both get the same validation with one-line errors naming the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tokenhub.errors import ConfigError

ProviderType = Literal["openai", "anthropic", "vllm"]
FinishReason = Literal["stop", "length", "tool_calls"]
RedactedThinking = Literal["off", "instead", "also"]

OVERLOADED = 529
"""Anthropic's non-standard "overloaded" status."""

INJECTABLE_STATUSES = frozenset({429, 500, 503, OVERLOADED})
"""HTTP statuses ``error_rate`` may inject; 529 only for Anthropic-type providers."""

ADMIN_PREFIX = "_sim"
"""Path prefix of the admin endpoints; provider names cannot start with ``_``."""


class ScenarioError(ConfigError):
    """A scenario is unreadable or invalid; the one-line message names the file and key."""

    type = "scenario_error"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimitSpec(_Spec):
    """Advertised limits (sent as rate-limit headers), enforced RPM, and optional 429 bursts.

    With ``every: N`` and ``burst: M`` the model answers N requests, then rejects the
    next M with 429 and ``retry_after_s``, and repeats; bursts never depend on the clock.
    """

    requests_per_minute: int = Field(10_000, ge=1)
    tokens_per_minute: int = Field(2_000_000, ge=1)
    every: int | None = Field(None, ge=1)
    burst: int = Field(1, ge=1)
    retry_after_s: float = Field(1.0, ge=0)


class ModelSpec(_Spec):
    """One simulated model: limits, pacing, default reply length, reasoning and faults.

    ``thinking_tokens`` is the length of generated reasoning: Anthropic ``thinking``
    blocks (when a request enables thinking, capped by its budget) and, with
    ``reasoning``, OpenAI-style ``reasoning_content``. ``redacted_thinking`` makes an
    Anthropic model send a ``redacted_thinking`` block ``instead`` of, or ``also`` after,
    its thinking block.
    """

    id: str = Field(min_length=1)
    display_name: str | None = None
    context_window: int = Field(128_000, ge=1)
    max_output_tokens: int = Field(4_096, ge=1)
    output_tokens: int = Field(32, ge=1)
    ttft_ms: float = Field(0.0, ge=0)
    tokens_per_second: float = Field(0.0, ge=0)
    error_rate: dict[int, float] = Field(default_factory=dict)
    hang: float = Field(0.0, ge=0, le=1)
    rate_limit: RateLimitSpec = Field(default_factory=RateLimitSpec)
    thinking_tokens: int = Field(16, ge=1)
    redacted_thinking: RedactedThinking = "off"
    reasoning: bool = False

    @field_validator("hang", mode="before")
    @classmethod
    def _hang_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        return value

    @field_validator("error_rate")
    @classmethod
    def _rates(cls, value: dict[int, float]) -> dict[int, float]:
        bad = sorted(set(value) - INJECTABLE_STATUSES)
        if bad:
            allowed = ", ".join(str(s) for s in sorted(INJECTABLE_STATUSES))
            raise ValueError(f"status {bad[0]} cannot be injected (allowed: {allowed})")
        if any(not 0 <= p <= 1 for p in value.values()):
            raise ValueError("each probability must be between 0 and 1")
        if sum(value.values()) > 1:
            raise ValueError("probabilities add up to more than 1")
        return value


class ToolCallSpec(_Spec):
    """A tool call a scripted reply makes: the tool's name and its JSON arguments."""

    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class MatchSpec(_Spec):
    """Which requests a scripted response answers; an absent field matches anything."""

    model: str | None = None
    prompt: str | None = None

    @field_validator("prompt")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class ResponseSpec(_Spec):
    """A scripted response: text and/or tool calls for requests that match."""

    match: MatchSpec = Field(default_factory=MatchSpec)
    reply: str | None = None
    tool_calls: tuple[ToolCallSpec, ...] = ()
    finish_reason: FinishReason | None = None
    thinking: str | None = None

    @model_validator(mode="after")
    def _has_content(self) -> Self:
        if self.reply is None and not self.tool_calls:
            raise ValueError("a response needs 'reply' or 'tool_calls'")
        return self


class ProviderSpec(_Spec):
    """One simulated provider, served under ``/{name}/``.

    ``thinking_key`` (Anthropic) is the secret its thinking signatures are made with;
    by default every provider of a scenario shares one derived from the seed.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    type: ProviderType
    api_key: str | None = None
    thinking_key: str | None = None
    models: tuple[ModelSpec, ...] = Field(min_length=1)
    responses: tuple[ResponseSpec, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [m.id for m in self.models]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"model id '{dupes[0]}' appears twice")
        if self.type != "anthropic" and any(OVERLOADED in m.error_rate for m in self.models):
            raise ValueError("status 529 is Anthropic's; only anthropic providers send it")
        anthropic = self.type == "anthropic"
        if anthropic and any(m.reasoning for m in self.models):
            raise ValueError(
                "'reasoning' is for openai and vllm providers; anthropic models think "
                "when a request enables thinking"
            )
        if not anthropic and any(m.redacted_thinking != "off" for m in self.models):
            raise ValueError("'redacted_thinking' is Anthropic's; only anthropic providers send it")
        if not anthropic and self.thinking_key is not None:
            raise ValueError("'thinking_key' is Anthropic's; only anthropic providers sign")
        return self

    def model(self, model_id: str) -> ModelSpec | None:
        """The model with this id, or None."""
        return next((m for m in self.models if m.id == model_id), None)


class Scenario(_Spec):
    """Everything the simulator serves; ``seed`` makes every run reproducible."""

    seed: int = 0
    providers: tuple[ProviderSpec, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        names = [p.name for p in self.providers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"provider name '{dupes[0]}' appears twice")
        return self

    def provider(self, name: str) -> ProviderSpec:
        """The provider called ``name``; KeyError if there is none."""
        for provider in self.providers:
            if provider.name == name:
                return provider
        raise KeyError(name)


class Override(_Spec):
    """A one-shot answer for the next matching request (see ``Simulator.enqueue``).

    ``fail_after_events`` / ``drop_after_events`` cut a streamed answer after that many
    content events: with the provider's in-stream error, or by dropping the connection.
    With them, ``error_type`` and ``message`` describe the in-stream error.
    """

    model: str | None = None
    reply: str | None = None
    tool_calls: tuple[ToolCallSpec, ...] = ()
    finish_reason: FinishReason | None = None
    thinking: str | None = None
    status: int | None = Field(None, ge=400, le=599)
    error_type: str | None = None
    message: str | None = None
    retry_after: float | None = Field(None, ge=0)
    hang: bool = False
    delay_ms: float = Field(0.0, ge=0)
    fail_after_events: int | None = Field(None, ge=0)
    drop_after_events: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_cut(self) -> Self:
        if self.fail_after_events is not None and self.drop_after_events is not None:
            raise ValueError("give at most one of 'fail_after_events' and 'drop_after_events'")
        return self


def default_scenario(seed: int = 0) -> Scenario:
    """A ready-made scenario: openai, anthropic and vllm providers, zero latency."""
    return Scenario(
        seed=seed,
        providers=(
            ProviderSpec(
                name="openai",
                type="openai",
                models=(
                    ModelSpec(id="gpt-4o-mini", context_window=128_000, max_output_tokens=16_384),
                    ModelSpec(id="gpt-4o", context_window=128_000, max_output_tokens=16_384),
                ),
            ),
            ProviderSpec(
                name="anthropic",
                type="anthropic",
                models=(
                    ModelSpec(
                        id="claude-sonnet-4-5", context_window=200_000, max_output_tokens=64_000
                    ),
                    ModelSpec(
                        id="claude-haiku-4-5", context_window=200_000, max_output_tokens=64_000
                    ),
                ),
            ),
            ProviderSpec(
                name="vllm",
                type="vllm",
                models=(ModelSpec(id="meta-llama/Llama-3.1-8B-Instruct", context_window=8_192),),
            ),
        ),
    )


def parse_scenario(data: Any, source: str = "scenario") -> Scenario:
    """Validate already-parsed data; ScenarioError names ``source`` and the bad key."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(describe_error(exc, source)) from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a YAML scenario file; ScenarioError carries a one-line reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: the top level must be a mapping with 'providers'")
    return parse_scenario(data, str(path))


def describe_error(exc: ValidationError, source: str) -> str:
    """One line naming ``source``, the first bad key and the problem."""
    errors = exc.errors()
    # A failed item also fails its container's length check; report only the root causes.
    causes = [e for e in errors if not any(_inside(o["loc"], e["loc"]) for o in errors)]
    first = causes[0]
    loc = _dotted(first["loc"])
    more = len(causes) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{loc}'{suffix}"
    message = first["msg"].removeprefix("Value error, ")
    where = f"'{loc}'" if loc else "top level"
    return f"{source}: {where}: {message}{suffix}"


def _inside(inner: tuple[int | str, ...], outer: tuple[int | str, ...]) -> bool:
    return len(inner) > len(outer) and inner[: len(outer)] == outer


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
