"""A key's spend: what it was charged, what requests in flight hold, and what to persist.

Budgets hold under concurrency because a request reserves its estimated cost before its
upstream call and the check and the reservation happen with no ``await`` between them:
the event loop runs one callback at a time, so two requests cannot both take the last of
a budget. A reservation is settled to the real cost when the request ends (released,
charging nothing, when it fails), so overspend is bounded by how far the estimates of the
requests in flight fall short of their real costs — and the router's estimate errs high.

Persistence is the owner's: ``take_dirty`` hands over what changed, ``restore`` takes it
back when the write did not commit (store/spend_store.py writes it in the background
writer's transaction, with the request rows that carry the same charges).
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenhub.auth.apikeys import DAY_S, ApiKey, period_start
from tokenhub.clock import Clock
from tokenhub.errors import BudgetExceededError


@dataclass(slots=True)
class Reservation:
    """One request's hold on its key's budget; settled (or released) exactly once."""

    key: ApiKey
    amount_usd: float
    open: bool = True


@dataclass(frozen=True, slots=True)
class SpendSnapshot:
    """A key's spend as it was when taken for persistence."""

    key: ApiKey
    spent_usd: float
    period_start: float | None


class SpendLedger:
    """Charges, reservations and the period roll of every key's spend."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._reserved: dict[str, float] = {}
        self._holds: dict[str, int] = {}
        self._dirty: dict[str, ApiKey] = {}
        self._periods: dict[str, tuple[float | None, float]] = {}

    def reserved_usd(self, key: ApiKey) -> float:
        """What the key's requests in flight hold now."""
        return self._reserved.get(key.id, 0.0)

    def check(self, key: ApiKey) -> None:
        """Refuse (402) a key whose spend and holds already reach its budget."""
        self._roll_period(key)
        self._refuse_if_spent(key, self._reserved.get(key.id, 0.0))

    def reserve(self, key: ApiKey, estimate_usd: float) -> Reservation:
        """Hold ``estimate_usd`` of the key's budget, or refuse (402) when it does not fit.

        Synchronous on purpose: nothing else runs between the check and the hold.
        """
        budget = key.budget_usd
        if budget is None:
            return Reservation(key, 0.0)
        self._roll_period(key)
        reserved = self._reserved.get(key.id, 0.0)
        self._refuse_if_spent(key, reserved)
        estimate = max(0.0, estimate_usd)
        left = budget - key.spent_usd - reserved
        if estimate > left:
            raise BudgetExceededError(
                f"this request's estimated cost of ${estimate:.6f} exceeds the ${left:.6f}"
                f" left of this key's budget of ${budget:.2f} per"
                f" {key.budget_period or 'total'} (a lower max_tokens lowers the estimate)"
            )
        self._reserved[key.id] = reserved + estimate
        self._holds[key.id] = self._holds.get(key.id, 0) + 1
        return Reservation(key, estimate)

    def expect(self, reservation: Reservation, estimate_usd: float) -> None:
        """Raise a hold to a later, larger estimate (the model that answered); never refuses."""
        extra = estimate_usd - reservation.amount_usd
        if not reservation.open or reservation.key.budget_usd is None or extra <= 0:
            return
        key_id = reservation.key.id
        self._reserved[key_id] = self._reserved.get(key_id, 0.0) + extra
        reservation.amount_usd = estimate_usd

    def settle(self, reservation: Reservation, cost_usd: float) -> None:
        """End the hold and charge the real cost; a second settle does nothing."""
        if not reservation.open:
            return
        reservation.open = False
        if reservation.key.budget_usd is not None:
            self._drop_hold(reservation)
        self.charge(reservation.key, cost_usd)

    def release(self, reservation: Reservation) -> None:
        """End the hold charging nothing (the request failed before it cost anything)."""
        self.settle(reservation, 0.0)

    def finish(self, key: ApiKey, reservation: Reservation | None, cost_usd: float) -> None:
        """Charge a finished request: settle its hold, or charge directly when it had none."""
        if reservation is None:
            self.charge(key, cost_usd)
        else:
            self.settle(reservation, cost_usd)

    def charge(self, key: ApiKey, cost_usd: float) -> None:
        """Add a request's real cost to the key's spend."""
        if cost_usd <= 0:
            return
        self._roll_period(key)
        key.spent_usd += cost_usd
        self._dirty[key.id] = key

    def take_dirty(self) -> list[SpendSnapshot]:
        """The spend of every key changed since the last call (``restore`` if unsaved)."""
        taken = [SpendSnapshot(k, k.spent_usd, k.period_start) for k in self._dirty.values()]
        self._dirty.clear()
        return taken

    def restore(self, snapshots: list[SpendSnapshot]) -> None:
        """Mark keys changed again after their save failed; the next save writes them."""
        for snapshot in snapshots:
            self._dirty[snapshot.key.id] = snapshot.key

    @property
    def pending(self) -> bool:
        """Whether any key's spend changed since the last ``take_dirty``."""
        return bool(self._dirty)

    @staticmethod
    def _refuse_if_spent(key: ApiKey, reserved_usd: float) -> None:
        budget = key.budget_usd
        if budget is not None and key.spent_usd + reserved_usd >= budget:
            raise BudgetExceededError(
                f"this key's budget of ${budget:.2f} per {key.budget_period or 'total'}"
                " is spent (or held by its requests in flight)"
            )

    def _drop_hold(self, reservation: Reservation) -> None:
        key_id = reservation.key.id
        holds = self._holds.get(key_id, 0) - 1
        if holds <= 0:
            # The last hold gone: forget the sum too, so float residue cannot build up.
            self._holds.pop(key_id, None)
            self._reserved.pop(key_id, None)
            return
        self._holds[key_id] = holds
        self._reserved[key_id] = max(0.0, self._reserved[key_id] - reservation.amount_usd)

    def _roll_period(self, key: ApiKey) -> None:
        now = self.clock.time()
        cached = self._periods.get(key.id)
        if cached is not None and now < cached[1]:
            start = cached[0]  # periods only change at a UTC midnight: no calendar maths
        else:
            start = period_start(key.budget_period, now)
            self._periods[key.id] = (start, (now // DAY_S + 1) * DAY_S)
        if start is not None and (key.period_start or 0.0) < start:
            key.period_start = start
            key.spent_usd = 0.0
            self._dirty[key.id] = key
