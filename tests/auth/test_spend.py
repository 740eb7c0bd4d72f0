"""The spend ledger: holds that keep a budget under concurrency, settlement, the period roll."""

from __future__ import annotations

import pytest

from tokenhub.auth.apikeys import ApiKey, period_start
from tokenhub.auth.spend import SpendLedger
from tokenhub.clock import FakeClock
from tokenhub.errors import BudgetExceededError


def key(budget: float | None = 1.0, period: str | None = "total", key_id: str = "k1") -> ApiKey:
    """A key with a budget (no secret needed: the ledger never sees one)."""
    return ApiKey(
        id=key_id,
        name=key_id,
        prefix="th-k",
        key_hash="x",
        scopes=["chat"],
        budget_usd=budget,
        budget_period=period,
    )


def test_holds_count_against_the_budget_before_any_charge():
    """Holds in flight take the budget: the request that would pass it is refused (402)."""
    ledger, k = SpendLedger(FakeClock()), key(budget=1.0)
    holds = [ledger.reserve(k, 0.25) for _ in range(3)]
    with pytest.raises(BudgetExceededError, match=r"estimated cost of \$0\.500000"):
        ledger.reserve(k, 0.5)
    assert ledger.reserved_usd(k) == 0.75
    assert ledger.reserve(k, 0.25).amount_usd == 0.25  # what is left still fits exactly
    with pytest.raises(BudgetExceededError, match="held by its requests in flight"):
        ledger.check(k)
    assert len(holds) == 3


def test_settle_charges_the_real_cost_once_and_frees_the_rest():
    """Settling charges the real cost, frees the hold; a second settle changes nothing."""
    ledger, k = SpendLedger(FakeClock()), key(budget=1.0)
    hold = ledger.reserve(k, 0.5)
    ledger.settle(hold, 0.2)
    ledger.settle(hold, 0.2)
    assert (k.spent_usd, ledger.reserved_usd(k)) == (pytest.approx(0.2), 0.0)
    assert ledger.reserve(k, 0.8).amount_usd == 0.8


def test_release_charges_nothing():
    """A failed request's hold is released without a charge and without marking the key."""
    ledger, k = SpendLedger(FakeClock()), key()
    ledger.release(ledger.reserve(k, 0.5))
    assert (k.spent_usd, ledger.reserved_usd(k), ledger.pending) == (0.0, 0.0, False)


def test_expect_raises_a_hold_but_never_lowers_it():
    """A failover to a pricier model raises the hold; a cheaper estimate leaves it."""
    ledger, k = SpendLedger(FakeClock()), key()
    hold = ledger.reserve(k, 0.2)
    ledger.expect(hold, 0.5)
    ledger.expect(hold, 0.1)
    assert ledger.reserved_usd(k) == pytest.approx(0.5)
    ledger.settle(hold, 0.4)
    assert ledger.reserved_usd(k) == 0.0


def test_key_without_budget_is_never_refused_and_still_charged():
    """No budget: holds are free and never refuse, and the real cost is still charged."""
    ledger, k = SpendLedger(FakeClock()), key(budget=None, period=None)
    hold = ledger.reserve(k, 1e9)
    ledger.finish(k, hold, 0.25)
    ledger.finish(k, None, 0.25)
    assert (k.spent_usd, ledger.reserved_usd(k)) == (0.5, 0.0)


def test_period_roll_resets_spend_and_marks_the_key():
    """At the next UTC day a daily budget starts from zero, and the reset is persisted."""
    clock = FakeClock()
    ledger, k = SpendLedger(clock), key(budget=1.0, period="day")
    ledger.charge(k, 1.0)
    with pytest.raises(BudgetExceededError):
        ledger.reserve(k, 0.1)
    ledger.take_dirty()
    clock.advance(86_400)
    ledger.reserve(k, 0.1)
    assert (k.spent_usd, k.period_start) == (0.0, period_start("day", clock.time()))
    assert [s.spent_usd for s in ledger.take_dirty()] == [0.0]


def test_failed_save_is_restored_for_the_next_one():
    """Snapshots handed back after a failed save are taken again, with the newest spend."""
    ledger, k = SpendLedger(FakeClock()), key()
    ledger.charge(k, 0.1)
    taken = ledger.take_dirty()
    assert (ledger.pending, ledger.take_dirty()) == (False, [])
    ledger.charge(k, 0.2)
    ledger.restore(taken)
    again = ledger.take_dirty()
    assert [(s.key.id, s.spent_usd) for s in again] == [("k1", pytest.approx(0.3))]
