"""What the vault reports: its status snapshot and the auditable events it emits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tokenhub.vault.crypto import KDF_ALGORITHM, KdfCost

VaultState = Literal["uninitialised", "locked", "unlocked"]


@dataclass(frozen=True, slots=True)
class VaultEvent:
    """Something auditable happened; never carries a password or a secret.

    ``action`` is init, unlock, rotate_password or lock; ``outcome`` is ok,
    wrong_password or throttled; ``details`` holds counts, delays and the lock reason.
    """

    action: str
    outcome: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VaultStatus:
    """A snapshot of the vault for the admin API; nothing in it is secret."""

    state: VaultState
    idle_timeout_s: float | None
    unlocked_since: float | None
    locks_in_s: float | None
    failed_attempts: int
    retry_after_s: float
    version: int | None
    kdf: KdfCost | None
    secrets: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        kdf = None
        if self.kdf is not None:
            kdf = {
                "algorithm": KDF_ALGORITHM,
                "m_cost_kib": self.kdf.m_cost_kib,
                "t_cost": self.kdf.t_cost,
                "parallelism": self.kdf.parallelism,
            }
        return {
            "state": self.state,
            "idle_timeout_s": self.idle_timeout_s,
            "unlocked_since": self.unlocked_since,
            "locks_in_s": self.locks_in_s,
            "failed_attempts": self.failed_attempts,
            "retry_after_s": self.retry_after_s,
            "version": self.version,
            "kdf": kdf,
            "secrets": self.secrets,
        }
