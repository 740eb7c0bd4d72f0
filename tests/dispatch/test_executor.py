"""The executor on its own: deadline, attempt budget, failover by error class, retries."""

from __future__ import annotations

import asyncio

import pytest
from tests.dispatch.fakes import answer_text
from tests.dispatch.rig import make_rig, model, route

from tokenhub.config import HealthSettings
from tokenhub.errors import (
    AllProvidersFailedError,
    ErrorKind,
    NoEligibleModelError,
    OverloadedError,
    ProviderError,
    UpstreamRateLimitedError,
    VaultLockedError,
)
from tokenhub.routing.policy import RoutingSettings
from tokenhub.types import TextDelta


def settings(**kw) -> RoutingSettings:
    """Routing settings where the best score always goes first (no draw)."""
    return RoutingSettings(selection_margin=0, **kw)


def two_models(**kw):
    """``a`` (weight 7) ranked before ``b`` (weight 5), on providers p1 and p2."""
    rig = make_rig([model("a", weight=7), model("b", "p2")], **kw)
    assert rig.ranked() == ["a", "b"]
    return rig


async def test_success_reports_the_model_the_attempts_and_the_cost():
    """A first-try answer: one ok attempt, the answering model and its cost."""
    rig = two_models()
    done = await rig.complete()
    assert done.info.model.id == "a"
    assert done.response.message.text() == answer_text("a")
    assert [(a.model, a.outcome) for a in done.info.attempts] == [("a", "ok")]
    assert done.cost_usd == pytest.approx((10 * 1.0 + 5 * 2.0) / 1e6)


async def test_request_deadline_ends_the_attempts():
    """Once request_timeout_s has passed no further attempt starts: all_providers_failed.

    The first call fails as the adapter's own timeout would, at the deadline; the peer
    that would come next is never called.
    """
    rig = two_models(settings=settings(request_timeout_s=30))
    rig.source.fail("a", ErrorKind.TRANSIENT, after_s=30)
    with pytest.raises(AllProvidersFailedError) as caught:
        await rig.complete()
    assert rig.source.called() == ["a"]
    assert [(a.model, a.error_kind) for a in caught.value.attempts] == [("a", "transient")]
    assert "deadline" in caught.value.message


async def test_a_call_timing_out_at_the_deadline_ends_the_request():
    """An adapter that gives up at CallOptions.deadline leaves no time: no further attempt."""
    rig = two_models(settings=settings(request_timeout_s=30))
    start = rig.clock.monotonic()
    rig.source.time_out("a")
    with pytest.raises(AllProvidersFailedError) as caught:
        await rig.complete()
    assert rig.clock.monotonic() == start + 30
    assert rig.source.called() == ["a"]
    assert caught.value.attempts[0].error == "timed out waiting for the answer"


async def test_every_call_carries_the_request_deadline():
    """Each attempt's CallOptions.deadline is the request's start plus request_timeout_s."""
    rig = two_models(settings=settings(request_timeout_s=30))
    start = rig.clock.monotonic()
    rig.source.fail("a", ErrorKind.TRANSIENT, after_s=10)
    await rig.complete()
    assert [c.options.deadline for c in rig.source.calls] == [start + 30, start + 30]
    assert [c.options.api_key for c in rig.source.calls] == ["key-p1", "key-p2"]


@pytest.mark.parametrize("cause", ["deadline", "budget"])
async def test_exhaustion_names_what_ended_the_request(cause):
    """The error says whether the request timeout (and its value) or the attempt budget ended it."""
    models = [model(m, f"p{i}", input_usd_per_mtok=1 + i) for i, m in enumerate("abc")]
    rig = make_rig(models, settings=settings(request_timeout_s=30, attempt_budget=2))
    rig.source.fail("a", ErrorKind.TRANSIENT, after_s=30 if cause == "deadline" else 0)
    rig.source.fail("b", ErrorKind.TRANSIENT)
    with pytest.raises(AllProvidersFailedError) as caught:
        await rig.complete()
    message = caught.value.message
    if cause == "deadline":
        assert "timeout" in message
        assert "30" in message
        assert "budget" not in message
    else:
        assert "attempt budget" in message
        assert "2" in message
        assert "deadline" not in message
        assert "timeout" not in message


async def test_a_hang_is_cut_at_the_adaptive_timeout_while_a_peer_exists():
    """Once a model has answered, a try that hangs is cut at its adaptive timeout; a peer serves."""
    rig = two_models(health=HealthSettings(adaptive_timeout_floor_s=0.05))
    rig.source.answer_after("a", 0.01)
    assert (await rig.complete()).info.model.id == "a"
    rig.source.hang("a")
    done = await asyncio.wait_for(rig.complete(), 10)  # cut after 0.05 s, not 10
    assert done.info.model.id == "b"
    assert [c.outcome for c in rig.source.calls] == ["ok", "timed_out", "ok"]
    assert rig.source.calls[0].options.first_byte_s is None  # no history yet: no cut
    # Adaptive: a fraction of a second for a model that answered in 10 ms (provider's: 60 s).
    assert 0.05 <= rig.source.calls[1].options.first_byte_s < 1.0


async def test_the_deadline_cuts_a_call_that_hangs():
    """A call still running at the request's deadline is cancelled: all_providers_failed."""
    rig = make_rig([model("a")], settings=settings(request_timeout_s=0.2))
    rig.source.hang("a")
    with pytest.raises(AllProvidersFailedError):
        await asyncio.wait_for(rig.complete(), 3)  # far beyond the 0.2 s it should take
    assert rig.source.calls[0].outcome == "cancelled"


async def test_attempt_budget_ends_the_attempts():
    """With attempt_budget 3 and four failing models, exactly three are tried, in rank order."""
    models = [model(m, f"p{i}", input_usd_per_mtok=1 + i) for i, m in enumerate("abcd")]
    rig = make_rig(models, settings=settings(attempt_budget=3))
    assert rig.ranked() == ["a", "b", "c", "d"]
    for name in "abcd":
        rig.source.fail(name, ErrorKind.TRANSIENT)
    with pytest.raises(AllProvidersFailedError) as caught:
        await rig.complete()
    assert rig.source.called() == ["a", "b", "c"]
    assert [(a.model, a.error_kind) for a in caught.value.attempts] == [
        ("a", "transient"),
        ("b", "transient"),
        ("c", "transient"),
    ]
    assert caught.value.message.startswith("all 3 attempts failed")


async def test_fatal_error_is_raised_as_is_without_failover():
    """The client's own bad request (fatal) ends the request: one attempt, the error unchanged."""
    rig = two_models()
    rig.source.fail("a", ErrorKind.FATAL, status=400)
    with pytest.raises(ProviderError) as caught:
        await rig.complete()
    assert caught.value is rig.source.calls[0].error
    assert (caught.value.kind, caught.value.upstream_status) == (ErrorKind.FATAL, 400)
    assert rig.source.called() == ["a"]
    assert rig.ranked() == ["a", "b"]  # and the model is not punished for it


async def test_adapter_retries_are_off_while_peers_remain():
    """max_retries is 0 while another model is there to fail over to (even one tried before)."""
    rig = two_models()
    rig.source.fail("a", ErrorKind.TRANSIENT)
    done = await rig.complete()
    assert done.info.model.id == "b"
    assert [(c.model, c.options.max_retries) for c in rig.source.calls] == [("a", 0), ("b", 0)]


@pytest.mark.parametrize("budget", [1, 2, 4])
async def test_a_lone_candidate_gets_the_rest_of_the_budget_as_adapter_retries(budget):
    """With a single eligible model the call may retry inside the adapter: budget - 1 times."""
    rig = make_rig([model("a")], settings=settings(attempt_budget=budget))
    await rig.complete()
    assert [(c.model, c.options.max_retries) for c in rig.source.calls] == [("a", budget - 1)]


async def test_adapter_retries_count_as_attempts():
    """Each failed try the adapter retried is listed among the attempts, then the answer."""
    rig = make_rig([model("a")], settings=settings(attempt_budget=4))
    rig.source.answer_after("a", 0.2, retries=2)
    done = await rig.complete()
    assert [(a.model, a.outcome) for a in done.info.attempts] == [
        ("a", "error"),
        ("a", "error"),
        ("a", "ok"),
    ]
    assert done.info.attempts[-1].latency_ms == pytest.approx(200)


def contexts_rig():
    """a, b: 8k context (a cheapest); d: 16k; c: 32k (dearest), all weight 5, own providers."""
    models = [
        model("a", "p1", input_usd_per_mtok=1.0),
        model("b", "p2", input_usd_per_mtok=1.1),
        model("d", "p3", input_usd_per_mtok=1.5, max_context_tokens=16_000),
        model("c", "p4", input_usd_per_mtok=3.0, max_context_tokens=32_000),
    ]
    rig = make_rig(models)
    assert rig.ranked() == ["a", "b", "d", "c"]
    return rig


async def test_context_overflow_escalates_only_to_larger_contexts():
    """An overflow skips same-size peers; a second overflow climbs past the second model's size."""
    rig = contexts_rig()
    rig.source.fail("a", ErrorKind.CONTEXT_OVERFLOW)
    rig.source.fail("d", ErrorKind.CONTEXT_OVERFLOW)
    done = await rig.complete()
    assert rig.source.called() == ["a", "d", "c"]
    assert done.info.model.id == "c"
    assert [a.error_kind for a in done.info.attempts] == [
        "context_overflow",
        "context_overflow",
        None,
    ]


async def test_context_overflow_with_no_larger_model_fails_without_trying_peers():
    """When nothing larger exists the request fails; the same-size peer is never tried."""
    rig = make_rig([model("a", "p1", input_usd_per_mtok=1.0), model("b", "p2")])
    assert rig.ranked() == ["a", "b"]
    rig.source.fail("a", ErrorKind.CONTEXT_OVERFLOW)
    with pytest.raises(AllProvidersFailedError) as caught:
        await rig.complete()
    assert rig.source.called() == ["a"]
    assert "no other model is eligible" in caught.value.message


async def test_transient_failure_tries_a_peer_of_the_same_weight_first():
    """After a transient failure, a same-weight peer goes before a better-scoring lighter model."""
    models = [
        model("a", "p1", weight=7),
        model("b", "p2", weight=7, input_usd_per_mtok=4.0, output_usd_per_mtok=8.0),
        model("c", "p3", weight=5),
    ]
    rig = make_rig(models)
    assert rig.ranked() == ["a", "c", "b"]
    rig.source.fail("a", ErrorKind.TRANSIENT)
    done = await rig.complete()
    assert rig.source.called() == ["a", "b"]
    assert done.info.model.id == "b"


@pytest.mark.parametrize(
    ("kind", "peer_provider", "cooldown_s"),
    [
        (ErrorKind.MODEL_UNAVAILABLE, "p1", 600.0),  # the model alone: its provider serves b
        (ErrorKind.AUTH, "p2", 600.0),
        (ErrorKind.RATE_LIMITED, "p2", 30.0),  # Retry-After
    ],
)
async def test_reroutes_and_keeps_the_model_out_for_its_cooldown(kind, peer_provider, cooldown_s):
    """model_unavailable, auth and rate_limited move the request on; later requests avoid a.

    Once the cooldown has passed, a is eligible again.
    """
    rig = make_rig([model("a", "p1", weight=7), model("b", peer_provider)])
    assert rig.ranked() == ["a", "b"]
    rig.source.fail("a", kind, retry_after=30.0 if kind is ErrorKind.RATE_LIMITED else None)
    done = await rig.complete()
    assert done.info.model.id == "b"
    assert [(a.model, a.error_kind) for a in done.info.attempts] == [("a", str(kind)), ("b", None)]
    rig.clock.advance(cooldown_s - 1)
    await rig.complete()
    assert rig.source.called() == ["a", "b", "b"]
    assert rig.ranked() == ["b"]
    rig.clock.advance(1)
    assert "a" in rig.ranked()


async def test_stream_fails_over_before_its_first_event():
    """A stream that fails to open is opened on the next model."""
    rig = two_models()
    rig.source.fail("a", ErrorKind.TRANSIENT)
    opened = await rig.open_stream()
    assert opened.info.model.id == "b"
    assert TextDelta(answer_text("b")) in opened.handle.first
    assert [c.stream for c in rig.source.calls] == [True, True]


async def test_stream_that_ends_empty_is_closed_and_fails_over():
    """A stream that ends before its first event counts as transient: closed, next model."""
    rig = two_models()
    rig.source.empty_stream("a")
    opened = await rig.open_stream()
    assert opened.info.model.id == "b"
    empty = rig.source.streams[0]
    assert (empty.first, empty.closed) == ([], True)
    assert [(a.model, a.error_kind) for a in opened.info.attempts] == [
        ("a", "transient"),
        ("b", None),
    ]


async def test_nothing_eligible_before_any_attempt_is_no_eligible_model():
    """When no model passes eligibility, no call is made and every rejection is reported."""
    rig = two_models()
    with pytest.raises(NoEligibleModelError) as caught:
        await rig.complete(route(min_weight=9))
    assert {r.model for r in caught.value.rejections} == {"a", "b"}
    assert rig.source.calls == []


async def test_locked_vault_on_every_provider_is_vault_locked():
    """When every model is out only because the vault is locked, the error says so."""
    rig = two_models()
    rig.source.credential_problems.update(p1="vault_locked", p2="vault_locked")
    with pytest.raises(VaultLockedError):
        await rig.complete()
    assert rig.source.calls == []


# Issue 17: failover under sustained faults.


async def test_tried_models_come_back_when_nothing_untried_is_left():
    """Two failing peers are each tried twice within the budget (a, b, a, b), not given up on."""
    rig = two_models()
    rig.source.fail("a", ErrorKind.TRANSIENT, times=2)
    rig.source.fail("b", ErrorKind.TRANSIENT, times=1)
    done = await rig.complete()
    assert rig.source.called() == ["a", "b", "a", "b"]
    assert done.info.model.id == "b"
    assert [c.options.max_retries for c in rig.source.calls] == [0, 0, 0, 0]


async def test_health_learns_the_successful_try_time_only():
    """The latency average gets the answering try's own time, not earlier tries or backoff."""
    rig = make_rig([model("a")])
    rig.source.answer_after("a", 0.25, retries=2)
    done = await rig.complete()
    assert [a.outcome for a in done.info.attempts] == ["error", "error", "ok"]
    assert rig.health.model("a").latency_ewma_s == pytest.approx(0.25)


async def test_overloaded_is_no_verdict_on_the_upstream():
    """A full connection pool moves the request on without counting against the model."""
    rig = two_models()
    rig.source.fail("a", ErrorKind.OVERLOADED)
    done = await rig.complete()
    assert done.info.model.id == "b"
    record = rig.health.model("a")
    assert (record.state, record.requests, record.failures) == ("healthy", 0, 0)


async def test_every_pool_full_is_503_overloaded():
    """When every candidate's pool is full the client gets 503 overloaded, each tried once."""
    rig = two_models()
    rig.source.fail("a", ErrorKind.OVERLOADED, times=3)
    rig.source.fail("b", ErrorKind.OVERLOADED, times=3)
    with pytest.raises(OverloadedError) as caught:
        await rig.complete()
    assert rig.source.called() == ["a", "b"]
    assert caught.value.retry_after == 1.0


async def test_panic_routes_to_the_least_bad_ejected_model():
    """Both peers ejected: the one with the lower recent error rate is tried first."""
    rig = two_models()
    for _ in range(5):
        rig.health.failure("p1", "a", ErrorKind.TRANSIENT, "HTTP 500")
    rig.health.failure("p2", "b", ErrorKind.TRANSIENT, "timed out", timed_out=True)
    assert rig.health.model("a").state == "down"
    assert rig.health.model("b").state == "down"
    done = await rig.complete()
    assert rig.source.called() == ["b"]
    assert done.info.model.id == "b"


async def test_only_rate_limited_models_left_is_a_429():
    """Every candidate waiting out a 429: UpstreamRateLimitedError with the smallest wait."""
    rig = two_models()
    rig.health.failure("p1", "a", ErrorKind.RATE_LIMITED, "429", retry_after=30)
    rig.health.failure("p2", "b", ErrorKind.RATE_LIMITED, "429", retry_after=3)
    with pytest.raises(UpstreamRateLimitedError) as caught:
        await rig.complete()
    assert caught.value.retry_after == 3
    assert rig.source.called() == []
