"""Per-model behaviour: replies, limits, injected faults, hangs and one-shot overrides.

Every random choice comes from a ``random.Random`` seeded with the scenario seed and the
provider and model names, and each model draws the same number of values per request,
so a scenario replays identically: same texts, same faults on the same request numbers.
"""

from __future__ import annotations

import random
import re
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus

import orjson

from tokenhub.sim.core import (
    Fault,
    Plan,
    RateSnapshot,
    Reply,
    SimRequest,
    StreamCut,
    ToolCallOut,
    count_tokens,
    split_tokens,
)
from tokenhub.sim.scenario import (
    FinishReason,
    ModelSpec,
    Override,
    ProviderSpec,
    RateLimitSpec,
    ResponseSpec,
    ToolCallSpec,
)

WINDOW_S = 60.0
"""Length of the rate-limit window (the limits are per minute)."""

# Three letters plus a leading space make every piece exactly one 4-character token.
_WORDS = (
    "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her",
    "was", "one", "our", "out", "day", "get", "has", "him", "his", "how", "man", "new",
    "now", "old", "see", "two", "way", "who", "boy", "did", "its", "let", "put", "say",
    "she", "too", "use", "sim", "api", "log", "key", "map", "run", "set", "row", "bit",
)  # fmt: skip


def generated_pieces(rng: random.Random, count: int) -> list[str]:
    """``count`` one-token pieces of deterministic filler text."""
    words = rng.choices(_WORDS, k=count)
    return [words[0].capitalize(), *(f" {w}" for w in words[1:])]


@dataclass(slots=True)
class _Window:
    start: float = 0.0
    requests: int = 0
    tokens: int = 0


class ModelBehaviour:
    """The state of one simulated model: request count, rate window and seeded RNGs."""

    def __init__(self, spec: ModelSpec, seed: int, provider: str) -> None:
        self.spec = spec
        self.seen = 0
        self._faults = random.Random(f"{seed}/{provider}/{spec.id}/faults")  # noqa: S311 - seeded, reproducible fault draws in the simulator; not secrets
        self._text = random.Random(f"{seed}/{provider}/{spec.id}/text")  # noqa: S311 - seeded, reproducible reply text in the simulator; not secrets
        # A separate stream, so asking for reasoning leaves the reply texts unchanged.
        self._thinking = random.Random(f"{seed}/{provider}/{spec.id}/thinking")  # noqa: S311 - seeded, reproducible reasoning text in the simulator; not secrets
        self._window = _Window(start=float("-inf"))

    def admit(self, now: float, tokens: int) -> tuple[RateSnapshot, float | None]:
        """Count a request; return the headers' snapshot and a retry-after if limited."""
        limits = self.spec.rate_limit
        window = self._window
        if now - window.start >= WINDOW_S:
            window.start, window.requests, window.tokens = now, 0, 0
        self.seen += 1
        window.requests += 1
        window.tokens += tokens
        reset_s = max(0.0, WINDOW_S - (now - window.start))
        retry = _retry_after(limits, self.seen, window.requests, reset_s)
        snapshot = RateSnapshot(
            requests_limit=limits.requests_per_minute,
            requests_remaining=0 if retry else max(0, limits.requests_per_minute - window.requests),
            tokens_limit=limits.tokens_per_minute,
            tokens_remaining=max(0, limits.tokens_per_minute - window.tokens),
            reset_s=reset_s,
        )
        return snapshot, retry

    def draw_fault(self) -> int | None:
        """Draw this request's injected status (or None); always consumes one draw."""
        draw = self._faults.random()
        cumulative = 0.0
        for status in sorted(self.spec.error_rate):
            cumulative += self.spec.error_rate[status]
            if draw < cumulative:
                return status
        return None

    def draw_hang(self) -> bool:
        """Draw whether this request hangs; always consumes one draw."""
        return self._faults.random() < self.spec.hang

    def filler(self, count: int) -> list[str]:
        """Deterministic generated reply text of ``count`` tokens."""
        return generated_pieces(self._text, count)

    def thinking(self, count: int) -> list[str]:
        """Deterministic generated reasoning text of ``count`` tokens."""
        return generated_pieces(self._thinking, count)


def _retry_after(limits: RateLimitSpec, seen: int, in_window: int, reset_s: float) -> float | None:
    if in_window > limits.requests_per_minute:
        return reset_s
    if limits.every is not None and (seen - 1) % (limits.every + limits.burst) >= limits.every:
        return limits.retry_after_s
    return None


def limit_fault(request: SimRequest, spec: ModelSpec, *, check_output_cap: bool) -> Fault | None:
    """The 400 a real API gives when the prompt or ``max_tokens`` do not fit the model."""
    max_tokens = request.max_tokens
    if check_output_cap and max_tokens is not None and max_tokens > spec.max_output_tokens:
        return Fault(400, "max_tokens_too_large")
    if request.prompt_tokens > spec.context_window:
        return Fault(400, "context_length_exceeded")
    if max_tokens is not None and request.prompt_tokens + max_tokens > spec.context_window:
        return Fault(400, "context_length_exceeded")
    return None


class ProviderBehaviour:
    """Decides the answer to each request to one provider: override, rule or default."""

    def __init__(self, spec: ProviderSpec, seed: int) -> None:
        self.spec = spec
        self.models = {m.id: ModelBehaviour(m, seed, spec.name) for m in spec.models}
        self._rules = [(r, re.compile(r.match.prompt or "")) for r in spec.responses]
        self._overrides: deque[Override] = deque()

    def enqueue(self, override: Override) -> None:
        """Answer the next request matching ``override.model`` exactly as described."""
        self._overrides.append(override)

    def clear_overrides(self) -> None:
        """Drop every pending override."""
        self._overrides.clear()

    def plan(self, request: SimRequest, now: float) -> Plan:
        """Decide the answer to ``request``, which must name one of this provider's models."""
        model = self.models[request.model]
        limits, retry_after = model.admit(now, request.prompt_tokens)
        status = model.draw_fault()
        hang = model.draw_hang()
        plan = Plan(request=request, model=model.spec, limits=limits)
        override = self._pop_override(request.model)
        if override is not None:
            return self._apply(plan, override, model)
        plan.fault = self._fault(request, model.spec, retry_after, status)
        if plan.fault is None:
            plan.hang = hang
            plan.reply = None if hang else self._reply(request, model)
        return plan

    def _fault(
        self, request: SimRequest, spec: ModelSpec, retry_after: float | None, status: int | None
    ) -> Fault | None:
        if retry_after is not None:
            return Fault(HTTPStatus.TOO_MANY_REQUESTS, retry_after=retry_after)
        if status is not None:
            return Fault(
                status,
                retry_after=spec.rate_limit.retry_after_s
                if status == HTTPStatus.TOO_MANY_REQUESTS
                else None,
            )
        return limit_fault(request, spec, check_output_cap=self.spec.type != "vllm")

    def _pop_override(self, model: str) -> Override | None:
        for index, override in enumerate(self._overrides):
            if override.model in (None, model):
                del self._overrides[index]
                return override
        return None

    def _apply(self, plan: Plan, override: Override, model: ModelBehaviour) -> Plan:
        plan.delay_ms = override.delay_ms
        cut = _cut(override) if plan.request.stream else None
        cutting = override.fail_after_events is not None or override.drop_after_events is not None
        if override.hang:
            plan.hang = True
        elif override.status is not None or (override.error_type is not None and not cutting):
            status = override.status or 400
            retry = override.retry_after
            if retry is None and status == HTTPStatus.TOO_MANY_REQUESTS:
                retry = model.spec.rate_limit.retry_after_s
            plan.fault = Fault(status, override.error_type, override.message, retry)
        else:
            plan.reply = self._build(plan.request, model, override)
            plan.cut = cut
        return plan

    def _reply(self, request: SimRequest, model: ModelBehaviour) -> Reply:
        for rule, pattern in self._rules:
            if rule.match.model in (None, request.model) and pattern.search(request.prompt_text):
                return self._build(request, model, rule)
        return self._build(request, model, None)

    def _build(
        self, request: SimRequest, model: ModelBehaviour, source: ResponseSpec | Override | None
    ) -> Reply:
        tools = source.tool_calls if source is not None else ()
        if source is None or (source.reply is None and not tools):
            pieces = model.filler(model.spec.output_tokens)
        else:
            pieces = split_tokens(source.reply or "")
        wanted = source.finish_reason if source is not None else None
        cap = request.max_tokens or model.spec.max_output_tokens
        reasoning = _reasoning(request, model, source, cap)
        return build_reply(pieces, tools, wanted, cap, reasoning)


def _reasoning(
    request: SimRequest, model: ModelBehaviour, source: ResponseSpec | Override | None, cap: int
) -> list[str]:
    """The reasoning pieces: when the request enables thinking or the model reasons."""
    budget = request.thinking_budget
    if budget is None and model.spec.reasoning:
        budget = cap
    if budget is None:
        return []
    scripted = source.thinking if source is not None else None
    pieces = split_tokens(scripted) if scripted else model.thinking(model.spec.thinking_tokens)
    return pieces[: min(budget, cap)]


def _cut(override: Override) -> StreamCut | None:
    """The stream cut an override asks for (it only applies to streamed answers)."""
    if override.fail_after_events is not None:
        return StreamCut(override.fail_after_events, True, override.error_type, override.message)
    if override.drop_after_events is not None:
        return StreamCut(override.drop_after_events, False)
    return None


def build_reply(
    pieces: list[str],
    tools: tuple[ToolCallSpec, ...],
    wanted: FinishReason | None,
    cap: int,
    reasoning: list[str] | None = None,
) -> Reply:
    """Assemble a reply, truncating text at ``cap`` tokens (which drops tool calls).

    ``reasoning`` comes first and counts against ``cap`` and the output tokens.
    """
    thought = tuple(reasoning or ())
    calls = tuple(_tool_out(t) for t in tools)
    room = cap - len(thought)
    if len(pieces) > room:
        return Reply(tuple(pieces[:room]), (), "length", cap, thought)
    tool_tokens = sum(count_tokens(c.name + c.arguments) for c in calls)
    finish: FinishReason = wanted or ("tool_calls" if calls else "stop")
    return Reply(tuple(pieces), calls, finish, len(thought) + len(pieces) + tool_tokens, thought)


def _tool_out(spec: ToolCallSpec) -> ToolCallOut:
    return ToolCallOut(spec.name, orjson.dumps(spec.arguments).decode(), spec.arguments)
