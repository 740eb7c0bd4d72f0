"""Key spend written in the background writer's transaction, with the request rows.

A request's charge and its request-log row are made in the same event-loop turn, and both
reach the database in the next flush's one transaction: a crash (``kill -9``) loses the
rows and the spend of at most one flush interval, together, and the spend read at start
is the spend of the rows that survived (or a little more, when a key was charged for
rows still queued — never less).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncConnection

from tokenhub.auth.spend import SpendLedger, SpendSnapshot
from tokenhub.store.apikey_store import KEYS

SAVE_SPEND = (
    update(KEYS)
    .where(KEYS.c.id == bindparam("key_id"))
    .values(spent_usd=bindparam("spent"), period_start=bindparam("start"))
)


class SpendWriter:
    """The ledger's changes, for the writer to commit with its rows (a ``CoWriter``)."""

    def __init__(self, ledger: SpendLedger) -> None:
        self.ledger = ledger

    def take(self) -> SpendWrite | None:
        """The keys whose spend changed since the last flush, or None."""
        if not self.ledger.pending:
            return None
        return SpendWrite(self.ledger, self.ledger.take_dirty())


@dataclass(slots=True)
class SpendWrite:
    """One flush's spend changes; handed back to the ledger if the flush fails."""

    ledger: SpendLedger
    snapshots: list[SpendSnapshot]

    async def write(self, conn: AsyncConnection) -> None:
        """Write every snapshot in one statement on the flush's connection."""
        await conn.execute(
            SAVE_SPEND,
            [
                {"key_id": s.key.id, "spent": s.spent_usd, "start": s.period_start}
                for s in self.snapshots
            ],
        )

    def failed(self) -> None:
        """Keep the keys changed, so the next flush writes their spend."""
        self.ledger.restore(self.snapshots)
