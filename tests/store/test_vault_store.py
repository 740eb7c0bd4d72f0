"""The vault's SQL storage: round trips on SQLite and PostgreSQL, atomic header writes."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from tests.vault.support import CHEAP, NEW_PASSWORD, PASSWORD

from tokenhub.clock import FakeClock
from tokenhub.errors import ConflictError, VaultAlreadyInitialisedError, VaultCorruptError
from tokenhub.store.engine import create_engine
from tokenhub.store.migrate import upgrade
from tokenhub.store.vault_store import HEADER, SqlVaultStorage
from tokenhub.testing.postgres import temporary_database
from tokenhub.vault import SecretRow, Vault, VaultHeader
from tokenhub.vault.crypto import new_kdf_params

SECRET = "sk-live-PLAINTEXT-canary-7f3a9c"


@pytest.fixture
async def engine(tmp_path):
    """A migrated SQLite engine on a real file."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'vault.db'}")
    await upgrade(engine)
    yield engine
    await engine.dispose()


def header(wrapped: bytes, rotated_at: float | None = None) -> VaultHeader:
    """A header with given wrapped-key bytes."""
    return VaultHeader(1, new_kdf_params(CHEAP), wrapped, created_at=10.0, rotated_at=rotated_at)


async def round_trip(storage: SqlVaultStorage) -> None:
    """Exercise every storage operation and check what comes back."""
    assert await storage.load_header() is None
    first = header(b"\x00\x01" * 30)
    await storage.save_header(first, replacing=None)
    assert await storage.load_header() == first
    with pytest.raises(VaultAlreadyInitialisedError):
        await storage.save_header(header(b"x" * 60), replacing=None)
    second = header(b"\xff" * 60, rotated_at=20.0)
    await storage.save_header(second, replacing=first)
    assert await storage.load_header() == second
    with pytest.raises(ConflictError):
        await storage.save_header(header(b"y" * 60), replacing=first)

    row = SecretRow("openai", "provider_key", b"\x00" * 12, b"\x80\x00binary\xff")
    await storage.put_secret(row, now=1.0)
    await storage.put_secret(SecretRow("anthropic", "provider_key", b"n" * 12, b"c"), now=1.0)
    assert await storage.get_secret("openai", "provider_key") == row
    replaced = SecretRow("openai", "provider_key", b"\x01" * 12, b"new")
    await storage.put_secret(replaced, now=2.0)
    assert [r.key for r in await storage.list_secrets()] == [
        ("anthropic", "provider_key"),
        ("openai", "provider_key"),
    ]
    assert await storage.get_secret("openai", "provider_key") == replaced
    assert await storage.delete_secret("openai", "provider_key")
    assert not await storage.delete_secret("openai", "provider_key")
    assert await storage.get_secret("openai", "provider_key") is None


async def test_round_trip_sqlite(engine):
    """Header and secret rows survive a round trip through SQLite, binary bytes intact."""
    await round_trip(SqlVaultStorage(engine))


@pytest.mark.postgres
async def test_round_trip_postgres():
    """Header and secret rows survive a round trip through PostgreSQL, binary bytes intact."""
    async with temporary_database() as url:
        engine = create_engine(url)
        try:
            await upgrade(engine)
            await round_trip(SqlVaultStorage(engine))
        finally:
            await engine.dispose()


async def test_failed_header_update_leaves_the_old_header(engine):
    """A failure inside the rotation transaction rolls back: the old header stays."""
    storage = SqlVaultStorage(engine)
    first = header(b"a" * 60)
    await storage.save_header(first, replacing=None)

    def fail_on_header_update(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE VAULT_HEADER"):
            raise OSError("disk full")

    event.listen(engine.sync_engine, "before_cursor_execute", fail_on_header_update)
    try:
        with pytest.raises(OSError, match="disk full"):
            await storage.save_header(header(b"b" * 60), replacing=first)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", fail_on_header_update)
    assert await storage.load_header() == first


async def test_unusable_kdf_parameters_are_reported(engine):
    """A header whose KDF parameters cannot be parsed raises VaultCorruptError."""
    storage = SqlVaultStorage(engine)
    await storage.save_header(header(b"a" * 60), replacing=None)
    async with engine.begin() as conn:
        await conn.execute(HEADER.update().values(kdf={"algorithm": "md5"}))
    with pytest.raises(VaultCorruptError, match="KDF"):
        await storage.load_header()


async def test_vault_on_sqlite_end_to_end(engine):
    """A vault on SQLite survives a restart, a rotation and reads its secrets back."""
    clock = FakeClock()
    vault = Vault(SqlVaultStorage(engine), clock=clock, kdf_cost=CHEAP)
    await vault.load()
    await vault.init(PASSWORD)
    await vault.put_secret("openai", "provider_key", SECRET)
    await vault.rotate_password(PASSWORD, NEW_PASSWORD)

    restarted = Vault(SqlVaultStorage(engine), clock=clock, kdf_cost=CHEAP)
    await restarted.load()
    assert (restarted.state, restarted.list_secrets()) == ("locked", [("openai", "provider_key")])
    await restarted.unlock(NEW_PASSWORD)
    assert restarted.provider_key("openai") == SECRET


async def test_database_files_hold_no_plaintext(engine, tmp_path):
    """The SQLite file and its WAL hold the ciphertext but never the secret or the password."""
    storage = SqlVaultStorage(engine)
    vault = Vault(storage, clock=FakeClock(), kdf_cost=CHEAP)
    await vault.init(PASSWORD)
    await vault.put_secret("openai", "provider_key", SECRET)
    row = await storage.get_secret("openai", "provider_key")
    files = [tmp_path / "vault.db", tmp_path / "vault.db-wal"]
    assert all(p.exists() for p in files)
    stored = b"".join(p.read_bytes() for p in files)
    assert row is not None
    assert row.ciphertext in stored  # we are reading the right bytes
    for needle in (SECRET, PASSWORD):
        assert needle.encode() not in stored
        assert needle.encode("utf-16-le") not in stored
