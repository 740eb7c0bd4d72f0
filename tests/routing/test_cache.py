"""The routing cache: reuses a scoring only while nothing it depends on has changed."""

from __future__ import annotations

from tokenhub.errors import ErrorKind
from tokenhub.routing.cache import MAX_AGE_S, CachedRouter
from tokenhub.routing.policy import RoutingSettings
from tokenhub.routing.router import Router, RouteRequest, model_ids

from .conftest import make_registry, model, no_credential_problem, provider


class CountingRouter(Router):
    """A router that counts how often it really scores."""

    scorings = 0

    def score(self, *args, **kwargs):
        """Score, and count it."""
        self.scorings += 1
        return super().score(*args, **kwargs)


def setup(health, seed=1):
    """A cached router over two models on two providers."""
    import random

    registry = make_registry([provider("p1"), provider("p2")], [model("a"), model("b", pid="p2")])
    inner = CountingRouter(registry, health, random.Random(seed))
    return inner, CachedRouter(inner)


def req(tokens: int = 100) -> RouteRequest:
    """A plain request."""
    return RouteRequest(input_tokens=tokens, output_tokens=50, mode="normal")


SETTINGS = RoutingSettings()


def test_equivalent_requests_share_a_scoring(health):
    """Requests alike (tokens within one 64-token step) are scored once."""
    inner, cached = setup(health)
    first = cached.route(req(100), SETTINGS, no_credential_problem)
    second = cached.route(req(120), SETTINGS, no_credential_problem)
    assert inner.scorings == 1
    assert first.input_tokens == second.input_tokens == 128  # rounded up, never down
    assert sorted(model_ids(second.ranked)) == ["a", "b"]
    cached.route(req(200), SETTINGS, no_credential_problem)
    assert inner.scorings == 2


def test_each_request_still_draws_its_first_slot(health):
    """The weighted draw among near-best models happens per request, not per scoring."""
    inner, cached = setup(health, seed=5)
    settings = RoutingSettings(top_k=2, selection_margin=1.0)
    firsts = {
        cached.route(req(), settings, no_credential_problem).ranked[0].model.id for _ in range(50)
    }
    assert firsts == {"a", "b"}
    assert inner.scorings == 1


def test_health_change_recomputes(health):
    """A failure that ejects a model is seen by the very next request."""
    inner, cached = setup(health)
    cached.route(req(), SETTINGS, no_credential_problem)
    health.failure("p1", "a", ErrorKind.TRANSIENT, "timed out", timed_out=True)
    decision = cached.route(req(), SETTINGS, no_credential_problem)
    assert model_ids(decision.ranked) == ["b"]
    assert inner.scorings == 2


def test_cooldown_end_recomputes_before_max_age(health, clock):
    """When a cooldown that rejected a model ends, the scoring is redone at once."""
    inner, cached = setup(health)
    health.failure("p1", "a", ErrorKind.RATE_LIMITED, "429", retry_after=0.5)
    assert model_ids(cached.route(req(), SETTINGS, no_credential_problem).ranked) == ["b"]
    clock.advance(0.6)
    assert sorted(model_ids(cached.route(req(), SETTINGS, no_credential_problem).ranked)) == [
        "a",
        "b",
    ]
    assert inner.scorings == 2


def test_scorings_expire(health, clock):
    """After MAX_AGE_S a scoring is recomputed even if nothing visibly changed."""
    inner, cached = setup(health)
    cached.route(req(), SETTINGS, no_credential_problem)
    clock.advance(MAX_AGE_S / 2)
    cached.route(req(), SETTINGS, no_credential_problem)
    clock.advance(MAX_AGE_S)
    cached.route(req(), SETTINGS, no_credential_problem)
    assert inner.scorings == 2


def test_settings_and_credentials_are_part_of_the_key(health):
    """New routing settings or a changed credential state recompute the scoring."""
    inner, cached = setup(health)
    cached.route(req(), SETTINGS, no_credential_problem, "unlocked")
    cached.route(req(), RoutingSettings(context_headroom=0.2), no_credential_problem, "unlocked")
    assert inner.scorings == 2
    decision = cached.route(req(), SETTINGS, lambda _p: "vault_locked", "locked")
    assert inner.scorings == 3
    assert decision.ranked == []
