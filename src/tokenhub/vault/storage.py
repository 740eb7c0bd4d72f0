"""What the vault persists, the async protocol it persists through, and an in-memory store.

The vault never opens SQL sessions: ``tokenhub.store.vault_store`` implements
``VaultStorage`` on the database; ``MemoryVaultStorage`` serves unit tests. Only
ciphertext, nonces, salts and public parameters cross this boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from tokenhub.errors import ConflictError, VaultAlreadyInitialisedError
from tokenhub.vault.crypto import KdfParams

VAULT_VERSION = 1  # Argon2id (v1.3) wraps a 256-bit data key; AES-256-GCM everywhere.


@dataclass(frozen=True, slots=True)
class VaultHeader:
    """The vault's singleton header: format version, KDF parameters, the wrapped data key."""

    version: int
    kdf: KdfParams
    wrapped_key: bytes
    created_at: float
    rotated_at: float | None = None


@dataclass(frozen=True, slots=True)
class SecretRow:
    """One encrypted secret as stored: its address, nonce and ciphertext (with GCM tag)."""

    secret_id: str
    purpose: str
    nonce: bytes
    ciphertext: bytes

    @property
    def key(self) -> tuple[str, str]:
        """The row's address: (secret_id, purpose)."""
        return (self.secret_id, self.purpose)


class VaultStorage(Protocol):
    """Async persistence of the header and the encrypted secrets."""

    async def load_header(self) -> VaultHeader | None:
        """The header, or None while the vault is uninitialised."""
        ...

    async def save_header(self, header: VaultHeader, *, replacing: VaultHeader | None) -> None:
        """Write the header in one transaction.

        With ``replacing=None`` it creates the header and raises
        VaultAlreadyInitialisedError when one exists; otherwise it replaces ``replacing``
        and raises ConflictError when the stored header is no longer that one.
        """
        ...

    async def get_secret(self, secret_id: str, purpose: str) -> SecretRow | None:
        """One encrypted secret, or None."""
        ...

    async def put_secret(self, row: SecretRow, now: float) -> None:
        """Insert or replace one encrypted secret."""
        ...

    async def delete_secret(self, secret_id: str, purpose: str) -> bool:
        """Delete one secret; True when it existed."""
        ...

    async def list_secrets(self) -> list[SecretRow]:
        """Every encrypted secret, ordered by (secret_id, purpose)."""
        ...


class MemoryVaultStorage:
    """A ``VaultStorage`` in a dict, for tests; each write replaces whole immutable rows."""

    def __init__(self) -> None:
        self.header: VaultHeader | None = None
        self.rows: dict[tuple[str, str], SecretRow] = {}

    async def load_header(self) -> VaultHeader | None:
        """The header, or None while the vault is uninitialised."""
        return self.header

    async def save_header(self, header: VaultHeader, *, replacing: VaultHeader | None) -> None:
        """Create or compare-and-replace the header (see ``VaultStorage``)."""
        if replacing is None and self.header is not None:
            raise VaultAlreadyInitialisedError("the vault is already initialised")
        if replacing is not None and self.header != replacing:
            raise ConflictError("the vault header changed concurrently; retry")
        self.header = replace(header)

    async def get_secret(self, secret_id: str, purpose: str) -> SecretRow | None:
        """One encrypted secret, or None."""
        return self.rows.get((secret_id, purpose))

    async def put_secret(self, row: SecretRow, now: float) -> None:  # noqa: ARG002 - the in-memory store keeps no timestamps; the SQL one does
        """Insert or replace one encrypted secret (this double keeps no timestamps)."""
        self.rows[row.key] = row

    async def delete_secret(self, secret_id: str, purpose: str) -> bool:
        """Delete one secret; True when it existed."""
        return self.rows.pop((secret_id, purpose), None) is not None

    async def list_secrets(self) -> list[SecretRow]:
        """Every encrypted secret, ordered by (secret_id, purpose)."""
        return [self.rows[k] for k in sorted(self.rows)]
