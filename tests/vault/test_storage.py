import pytest
from tests.vault.support import CHEAP

from tokenhub.errors import ConflictError, VaultAlreadyInitialisedError
from tokenhub.vault import MemoryVaultStorage, SecretRow, VaultHeader
from tokenhub.vault.crypto import new_kdf_params


def header(wrapped: bytes = b"w" * 60) -> VaultHeader:
    """A header with fake wrapped-key bytes."""
    return VaultHeader(1, new_kdf_params(CHEAP), wrapped, created_at=1.0)


async def test_header_create_and_compare_and_swap():
    """Creating twice fails; replacing works only against the header currently stored."""
    storage = MemoryVaultStorage()
    first = header()
    await storage.save_header(first, replacing=None)
    with pytest.raises(VaultAlreadyInitialisedError):
        await storage.save_header(header(), replacing=None)
    second = header(b"x" * 60)
    await storage.save_header(second, replacing=first)
    with pytest.raises(ConflictError):
        await storage.save_header(header(b"y" * 60), replacing=first)
    assert await storage.load_header() == second


async def test_secret_rows_round_trip_sorted():
    """Rows are stored by address, listed sorted and deleted once."""
    storage = MemoryVaultStorage()
    for secret_id in ("b", "a"):
        await storage.put_secret(SecretRow(secret_id, "p", b"n" * 12, b"c"), now=1.0)
    assert [r.key for r in await storage.list_secrets()] == [("a", "p"), ("b", "p")]
    assert (await storage.get_secret("a", "p")).ciphertext == b"c"
    assert await storage.delete_secret("a", "p")
    assert not await storage.delete_secret("a", "p")
