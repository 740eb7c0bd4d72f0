"""``VaultStorage`` on the database: the header row and the encrypted secrets.

Only ciphertext, nonces, the salt and public KDF parameters reach these tables. Every
header write is one statement in one transaction: creating inserts the singleton row
(a second insert hits the primary key), replacing updates it only while it still holds the
wrapped key the caller read (compare-and-swap), so a failure leaves the old header intact.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from tokenhub.errors import ConflictError, VaultAlreadyInitialisedError, VaultCorruptError
from tokenhub.store.tables import VaultHeaderRow, VaultSecretRow
from tokenhub.vault.crypto import KdfParams
from tokenhub.vault.storage import SecretRow, VaultHeader

HEADER = VaultHeaderRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it
SECRETS = VaultSecretRow.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ on table classes; its stubs omit it
HEADER_ID = 1


class SqlVaultStorage:
    """The vault's persistence on the async engine (SQLite or PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def load_header(self) -> VaultHeader | None:
        """The header, or None while the vault is uninitialised."""
        async with self.engine.connect() as conn:
            query = select(HEADER).where(HEADER.c.id == HEADER_ID)
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _header(row)

    async def save_header(self, header: VaultHeader, *, replacing: VaultHeader | None) -> None:
        """Create the header, or replace ``replacing`` atomically (see ``VaultStorage``)."""
        values = _header_values(header)
        async with self.engine.begin() as conn:
            if replacing is None:
                try:
                    await conn.execute(insert(HEADER).values(id=HEADER_ID, **values))
                except IntegrityError:
                    raise VaultAlreadyInitialisedError("the vault is already initialised") from None
                return
            updated = await conn.execute(
                update(HEADER)
                .where(HEADER.c.id == HEADER_ID)
                .where(HEADER.c.wrapped_key == replacing.wrapped_key)
                .values(**values)
            )
            if updated.rowcount != 1:
                raise ConflictError("the vault header changed concurrently; retry")

    async def get_secret(self, secret_id: str, purpose: str) -> SecretRow | None:
        """One encrypted secret, or None."""
        query = select(SECRETS).where(SECRETS.c.secret_id == secret_id)
        async with self.engine.connect() as conn:
            query = query.where(SECRETS.c.purpose == purpose)
            row = (await conn.execute(query)).mappings().first()
        return None if row is None else _secret(row)

    async def put_secret(self, row: SecretRow, now: float) -> None:
        """Insert or replace one encrypted secret in one transaction."""
        where = (SECRETS.c.secret_id == row.secret_id) & (SECRETS.c.purpose == row.purpose)
        sealed = {"nonce": row.nonce, "ciphertext": row.ciphertext, "updated_at": now}
        async with self.engine.begin() as conn:
            updated = await conn.execute(update(SECRETS).where(where).values(**sealed))
            if updated.rowcount == 0:
                await conn.execute(
                    insert(SECRETS).values(
                        secret_id=row.secret_id, purpose=row.purpose, created_at=now, **sealed
                    )
                )

    async def delete_secret(self, secret_id: str, purpose: str) -> bool:
        """Delete one secret; True when it existed."""
        where = (SECRETS.c.secret_id == secret_id) & (SECRETS.c.purpose == purpose)
        async with self.engine.begin() as conn:
            deleted = await conn.execute(delete(SECRETS).where(where))
        return bool(deleted.rowcount)

    async def list_secrets(self) -> list[SecretRow]:
        """Every encrypted secret, ordered by (secret_id, purpose)."""
        query = select(SECRETS).order_by(SECRETS.c.secret_id, SECRETS.c.purpose)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_secret(r) for r in rows]


def _header_values(header: VaultHeader) -> dict[str, Any]:
    return {
        "version": header.version,
        "kdf": header.kdf.to_json(),
        "wrapped_key": header.wrapped_key,
        "created_at": header.created_at,
        "rotated_at": header.rotated_at,
    }


def _header(row: RowMapping) -> VaultHeader:
    try:
        kdf = KdfParams.from_json(dict(row["kdf"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise VaultCorruptError(f"the vault header's KDF parameters are unusable: {exc}") from None
    return VaultHeader(
        version=row["version"],
        kdf=kdf,
        wrapped_key=bytes(row["wrapped_key"]),
        created_at=row["created_at"],
        rotated_at=row["rotated_at"],
    )


def _secret(row: RowMapping) -> SecretRow:
    return SecretRow(
        secret_id=row["secret_id"],
        purpose=row["purpose"],
        nonce=bytes(row["nonce"]),
        ciphertext=bytes(row["ciphertext"]),
    )
