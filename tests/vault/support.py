"""Constants shared by the vault tests (and the SQL vault store tests)."""

from __future__ import annotations

from tokenhub.vault import KdfCost

# The smallest parameters Argon2 accepts: keeps the suite fast; real vaults use the defaults.
CHEAP = KdfCost(m_cost_kib=8, t_cost=1, parallelism=1)
PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple grapefruit moon"
IDLE_S = 600.0
