from __future__ import annotations

from collections import Counter

import pytest

from tokenhub.sim import ModelSpec, Override, ProviderSpec, RateLimitSpec, ResponseSpec
from tokenhub.sim.behaviour import ProviderBehaviour
from tokenhub.sim.core import SimRequest, count_tokens
from tokenhub.sim.openai_format import go_duration


def _provider(*models: ModelSpec, responses: tuple[ResponseSpec, ...] = ()) -> ProviderSpec:
    return ProviderSpec(name="p", type="openai", models=models, responses=responses)


def _request(model: str = "m", prompt: str = "hello", max_tokens: int | None = None) -> SimRequest:
    return SimRequest(model, prompt, count_tokens(prompt) + 4, max_tokens)


def _outcomes(behaviour: ProviderBehaviour, count: int) -> list[int]:
    plans = [behaviour.plan(_request(), now=1000.0 + i) for i in range(count)]
    return [p.fault.status if p.fault else 200 for p in plans]


def test_token_heuristic_is_four_chars_per_token():
    """count_tokens rounds characters / 4 up, and empty text is zero tokens."""
    assert [count_tokens(t) for t in ("", "a", "abcd", "abcde", "x" * 400)] == [0, 1, 1, 2, 100]


def test_generated_reply_has_the_configured_length():
    """A generated reply is output_tokens pieces whose text counts as that many tokens."""
    behaviour = ProviderBehaviour(_provider(ModelSpec(id="m", output_tokens=50)), seed=1)
    reply = behaviour.plan(_request(), now=0.0).reply
    assert reply is not None
    assert len(reply.pieces) == reply.output_tokens == 50
    assert count_tokens(reply.text) == 50
    assert reply.finish_reason == "stop"


def test_replies_are_deterministic_per_seed():
    """The same seed yields the same texts; another seed yields different ones."""

    def texts(seed: int) -> list[str]:
        behaviour = ProviderBehaviour(_provider(ModelSpec(id="m")), seed=seed)
        return [behaviour.plan(_request(), now=0.0).reply.text for _ in range(3)]

    assert texts(5) == texts(5)
    assert texts(5) != texts(6)


def test_error_injection_counts_are_reproducible():
    """Over 200 requests a seeded error_rate injects exactly the same faults every run."""
    spec = ModelSpec(id="m", error_rate={500: 0.1, 503: 0.05, 429: 0.05})
    first = _outcomes(ProviderBehaviour(_provider(spec), seed=42), 200)
    second = _outcomes(ProviderBehaviour(_provider(spec), seed=42), 200)
    assert first == second
    counts = Counter(first)
    assert 10 <= counts[500] <= 30
    assert 0 < counts[503] < 25
    assert 0 < counts[429] < 25


def test_burst_rate_limit_pattern():
    """every=3, burst=2 answers three requests, rejects two with 429, and repeats."""
    spec = ModelSpec(id="m", rate_limit=RateLimitSpec(every=3, burst=2, retry_after_s=4))
    behaviour = ProviderBehaviour(_provider(spec), seed=0)
    assert _outcomes(behaviour, 10) == [200, 200, 200, 429, 429] * 2
    plan = behaviour.plan(_request(), now=2000.0)
    assert plan.fault is None
    limited = [behaviour.plan(_request(), now=2000.0) for _ in range(3)][-1]
    assert limited.fault is not None
    assert limited.fault.retry_after == 4
    assert limited.limits.requests_remaining == 0


def test_requests_per_minute_is_enforced_per_window():
    """Request N+1 within a minute gets 429 until the window, timed by the clock, resets."""
    spec = ModelSpec(id="m", rate_limit=RateLimitSpec(requests_per_minute=2))
    behaviour = ProviderBehaviour(_provider(spec), seed=0)
    statuses = [behaviour.plan(_request(), now=t) for t in (0.0, 10.0, 20.0)]
    assert [p.fault.status if p.fault else 200 for p in statuses] == [200, 200, 429]
    assert statuses[2].fault is not None
    assert statuses[2].fault.retry_after == pytest.approx(40.0)
    assert behaviour.plan(_request(), now=61.0).fault is None


def test_max_tokens_truncates_with_length():
    """A reply longer than max_tokens is cut to max_tokens with finish_reason length."""
    behaviour = ProviderBehaviour(_provider(ModelSpec(id="m", output_tokens=40)), seed=0)
    reply = behaviour.plan(_request(max_tokens=7), now=0.0).reply
    assert reply is not None
    assert (len(reply.pieces), reply.output_tokens, reply.finish_reason) == (7, 7, "length")


def test_scripted_response_matches_model_and_prompt():
    """Scripted responses match by model and by a regex on the last user message."""
    rules = (
        ResponseSpec.model_validate({"match": {"model": "other", "prompt": "ping"}, "reply": "no"}),
        ResponseSpec.model_validate({"match": {"prompt": "(?i)^PING$"}, "reply": "pong"}),
    )
    behaviour = ProviderBehaviour(_provider(ModelSpec(id="m"), responses=rules), seed=0)
    assert behaviour.plan(_request(prompt="ping"), now=0.0).reply.text == "pong"
    assert behaviour.plan(_request(prompt="ping!"), now=0.0).reply.text != "pong"


def test_override_applies_once_to_the_matching_model():
    """An override for one model skips requests to others and is consumed once."""
    behaviour = ProviderBehaviour(_provider(ModelSpec(id="m"), ModelSpec(id="n")), seed=0)
    behaviour.enqueue(Override(model="n", status=503))
    assert behaviour.plan(_request("m"), now=0.0).fault is None
    assert behaviour.plan(_request("n"), now=0.0).fault.status == 503
    assert behaviour.plan(_request("n"), now=0.0).fault is None


def test_context_window_is_checked_with_max_tokens():
    """Prompt plus max_tokens above the context window is a context_length_exceeded fault."""
    behaviour = ProviderBehaviour(_provider(ModelSpec(id="m", context_window=100)), seed=0)
    fault = behaviour.plan(_request(prompt="x" * 200, max_tokens=60), now=0.0).fault
    assert fault is not None
    assert (fault.status, fault.error_type) == (400, "context_length_exceeded")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.012, "12ms"), (1, "1s"), (1.5, "1.5s"), (59.999, "59.999s"), (360, "6m0s"),
     (3723, "1h2m3s")],
)  # fmt: skip
def test_go_duration_matches_openai_reset_format(seconds: float, text: str):
    """Reset headers are formatted like Go durations, as OpenAI sends them."""
    assert go_duration(seconds) == text


def test_reasoning_comes_first_and_counts():
    """A reasoning model's reply has thinking_tokens of reasoning, counted in output tokens."""
    spec = ModelSpec(id="m", output_tokens=10, thinking_tokens=6, reasoning=True)
    reply = ProviderBehaviour(_provider(spec), seed=0).plan(_request(), now=0.0).reply
    assert reply is not None
    assert (len(reply.reasoning), len(reply.pieces), reply.output_tokens) == (6, 10, 16)


def test_reasoning_leaves_reply_texts_unchanged():
    """Turning reasoning on draws from its own seeded stream: the reply texts stay the same."""

    def texts(reasoning: bool) -> list[str]:
        spec = ModelSpec(id="m", reasoning=reasoning)
        behaviour = ProviderBehaviour(_provider(spec), seed=9)
        return [behaviour.plan(_request(), now=0.0).reply.text for _ in range(3)]

    assert texts(reasoning=True) == texts(reasoning=False)


def test_reasoning_shares_max_tokens_with_the_text():
    """Reasoning counts against max_tokens: the text gets what is left, finishing on length."""
    spec = ModelSpec(id="m", output_tokens=40, thinking_tokens=5, reasoning=True)
    reply = ProviderBehaviour(_provider(spec), seed=0).plan(_request(max_tokens=8), now=0.0).reply
    assert reply is not None
    assert (len(reply.reasoning), len(reply.pieces), reply.finish_reason) == (5, 3, "length")
    assert reply.output_tokens == 8


def test_thinking_budget_caps_reasoning_and_scripts_set_it():
    """A request's thinking budget caps generated reasoning; a scripted thinking text is used."""
    spec = ModelSpec(id="m", thinking_tokens=50)
    script = ResponseSpec(reply="ok", thinking="Plan: answer briefly.")
    behaviour = ProviderBehaviour(_provider(spec, responses=(script,)), seed=0)
    request = SimRequest("m", "hi", 5, 100, thinking_budget=20)
    reply = behaviour.plan(request, now=0.0).reply
    assert reply is not None
    assert "".join(reply.reasoning) == "Plan: answer briefly."
    plain = ProviderBehaviour(_provider(spec), seed=0).plan(request, now=0.0).reply
    assert plain is not None
    assert len(plain.reasoning) == 20
    assert (
        ProviderBehaviour(_provider(spec), seed=0).plan(_request(), now=0.0).reply.reasoning == ()
    )
