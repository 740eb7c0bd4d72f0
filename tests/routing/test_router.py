"""Eligibility with reasons, scoring per mode, selection and escalation — the pure router."""

from __future__ import annotations

import collections

from tokenhub.errors import ErrorKind
from tokenhub.routing.policy import RoutingSettings
from tokenhub.routing.router import RouteRequest, model_ids

from .conftest import make_registry, make_router, model, no_credential_problem, provider

SETTINGS = RoutingSettings(top_k=1)


def request(**kw) -> RouteRequest:
    """A small request in normal mode unless told otherwise."""
    return RouteRequest(**{"input_tokens": 100, "output_tokens": 100, "mode": "normal", **kw})


def rejection_map(decision) -> dict[str, list[str]]:
    """Model id -> reasons."""
    return {r.model: r.reasons for r in decision.rejections}


def test_each_eligibility_rule_has_its_reason(health):
    """Every rejected model says exactly why, one reason per failed rule."""
    registry = make_registry(
        [provider("p1"), provider("off", enabled=False)],
        [
            model("ok"),
            model("disabled", enabled=False),
            model("on-off-provider", pid="off"),
            model("tiny", max_context_tokens=150),
            model("light", weight=2),
            model("pricey", input_usd_per_mtok=1000, output_usd_per_mtok=1000),
            model("slow", expected_latency_ms=9000),
            model("no-tools", capabilities=[]),
        ],
    )
    router = make_router(registry, health)
    decision = router.route(
        request(
            min_weight=3,
            max_budget_usd=0.01,
            max_latency_ms=2000,
            capabilities=frozenset({"tools"}),
        ),
        SETTINGS,
        no_credential_problem,
    )
    assert model_ids(decision.ranked) == ["ok"]
    reasons = rejection_map(decision)
    assert reasons["disabled"] == ["model_disabled"]
    assert reasons["on-off-provider"] == ["provider_disabled"]
    assert reasons["tiny"] == ["context_too_small (needs 200, fits 132)"]
    assert reasons["light"] == ["weight_below_min (2 < 3)"]
    assert reasons["pricey"] == ["over_budget (est $0.200000 > $0.010000)"]
    assert reasons["slow"] == ["too_slow (expected 9000 ms > 2000)"]
    assert reasons["no-tools"] == ["missing_capability (tools)"]


def test_credential_problem_is_a_reason(health):
    """A provider whose credential is unavailable makes its models ineligible with the reason."""
    registry = make_registry([provider("p1")], [model("a")])
    decision = make_router(registry, health).route(
        request(), SETTINGS, lambda _p: "credential_missing (env OPENAI_API_KEY is not set)"
    )
    assert decision.ranked == []
    assert rejection_map(decision)["a"] == ["credential_missing (env OPENAI_API_KEY is not set)"]


def test_cheap_mode_prefers_cheap_and_high_confidence_prefers_weight(health):
    """Mode profiles change the winner: cheap picks the cheap model, high_confidence the big one."""
    registry = make_registry(
        [provider("p1")],
        [
            model("small", weight=3, input_usd_per_mtok=0.1, output_usd_per_mtok=0.2),
            model("big", weight=9, input_usd_per_mtok=10, output_usd_per_mtok=30),
        ],
    )
    router = make_router(registry, health)
    cheap = router.route(request(mode="cheap"), SETTINGS, no_credential_problem)
    high = router.route(request(mode="high_confidence"), SETTINGS, no_credential_problem)
    assert model_ids(cheap.ranked) == ["small", "big"]
    assert model_ids(high.ranked) == ["big"]
    assert rejection_map(high)["small"] == ["weight_below_min (3 < 6)"]
    assert set(cheap.ranked[0].components) == {"weight", "cost", "latency", "failure"}


def test_cooldowns_exclude_models_and_providers(health, clock):
    """An ejected model cools down; a 429 holds that model alone until Retry-After."""
    registry = make_registry(
        [provider("p1"), provider("p2")],
        [model("a"), model("b"), model("c", pid="p2"), model("d", pid="p2")],
    )
    router = make_router(registry, health)
    health.failure("p1", "a", ErrorKind.TRANSIENT, "timed out", timed_out=True)
    health.failure("p2", "c", ErrorKind.RATE_LIMITED, "429", retry_after=30)
    decision = router.route(request(), SETTINGS, no_credential_problem)
    assert sorted(model_ids(decision.ranked)) == ["b", "d"]
    assert rejection_map(decision) == {"a": ["model_cooldown"], "c": ["rate_limited_cooldown"]}
    clock.advance(31)
    decision = router.route(request(), SETTINGS, no_credential_problem)
    assert sorted(model_ids(decision.ranked)) == ["a", "b", "c", "d"]


def test_half_open_allows_one_probe(health, clock):
    """After the cooldown one request may probe; a second waits while the probe is in flight."""
    registry = make_registry([provider("p1")], [model("a")])
    router = make_router(registry, health)
    health.failure("p1", "a", ErrorKind.TRANSIENT, "timeout", timed_out=True)
    clock.advance(1.5)
    first = router.route(request(), SETTINGS, no_credential_problem)
    assert model_ids(first.ranked) == ["a"]
    health.begin("p1", "a")
    second = router.route(request(), SETTINGS, no_credential_problem)
    assert rejection_map(second) == {"a": ["model_probe_in_flight"]}
    health.success("p1", "a", 0.2)
    third = router.route(request(), SETTINGS, no_credential_problem)
    assert model_ids(third.ranked) == ["a"]


def test_escalation_needs_a_larger_context(health):
    """min_context_tokens (set after a context overflow) leaves only larger-context models."""
    registry = make_registry(
        [provider("p1")],
        [model("small", max_context_tokens=4000), model("large", max_context_tokens=100_000)],
    )
    decision = make_router(registry, health).route(
        request(min_context_tokens=4001), SETTINGS, no_credential_problem
    )
    assert model_ids(decision.ranked) == ["large"]


def test_only_models_and_exclude(health):
    """Explicit routing restricts to named models; failover excludes models already tried."""
    registry = make_registry([provider("p1")], [model("a"), model("b"), model("c")])
    router = make_router(registry, health)
    decision = router.route(
        request(only_models=frozenset({"a", "b"}), exclude=frozenset({"a"})),
        SETTINGS,
        no_credential_problem,
    )
    assert model_ids(decision.ranked) == ["b"]
    assert decision.rejections == []


def test_key_allowlist(health):
    """A key limited to some models gets the others rejected as not_allowed_for_key."""
    registry = make_registry([provider("p1")], [model("a"), model("b")])
    decision = make_router(registry, health).route(
        request(allowed_models=frozenset({"b"})), SETTINGS, no_credential_problem
    )
    assert model_ids(decision.ranked) == ["b"]
    assert rejection_map(decision) == {"a": ["not_allowed_for_key"]}


def test_traffic_weights_split_ties_and_are_seedable(health):
    """Among equal candidates the first slot follows traffic weights, reproducibly with a seed."""
    registry = make_registry([provider("p1")], [model("a"), model("b")])
    settings = RoutingSettings(top_k=2, traffic_weights={"a": 3.0, "b": 1.0})
    router = make_router(registry, health, seed=42)
    picks = collections.Counter(
        router.route(request(), settings, no_credential_problem).ranked[0].model.id
        for _ in range(4000)
    )
    assert 2800 < picks["a"] < 3200
    again = make_router(registry, health, seed=42)
    repeat = collections.Counter(
        again.route(request(), settings, no_credential_problem).ranked[0].model.id
        for _ in range(4000)
    )
    assert repeat == picks


def test_zero_traffic_weight_never_first(health):
    """A model with traffic weight 0 is never drawn first while another is near-best."""
    registry = make_registry([provider("p1")], [model("a"), model("b")])
    settings = RoutingSettings(top_k=2, traffic_weights={"a": 0.0})
    router = make_router(registry, health)
    firsts = {
        router.route(request(), settings, no_credential_problem).ranked[0].model.id
        for _ in range(200)
    }
    assert firsts == {"b"}


def test_failures_lower_the_score(health):
    """A model with a worse recent error rate ranks below an identical healthy one."""
    registry = make_registry([provider("p1")], [model("a"), model("b")])
    router = make_router(registry, health)
    for _ in range(2):
        health.failure("p1", "a", ErrorKind.TRANSIENT, "500")
        health.success("p1", "a", 0.5)
    decision = router.route(request(), SETTINGS, no_credential_problem)
    assert model_ids(decision.ranked) == ["b", "a"]
    assert decision.ranked[1].components["failure"] < 0
