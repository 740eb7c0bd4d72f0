"""Fixtures for the vault: a fake clock, in-memory storage and cheap Argon2 parameters."""

from __future__ import annotations

import pytest
from tests.vault.support import CHEAP, IDLE_S, PASSWORD

from tokenhub.clock import FakeClock
from tokenhub.vault import MemoryVaultStorage, Vault, VaultEvent


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock moved by hand."""
    return FakeClock()


@pytest.fixture
def storage() -> MemoryVaultStorage:
    """Empty in-memory vault storage."""
    return MemoryVaultStorage()


@pytest.fixture
def events() -> list[VaultEvent]:
    """Every event the vault under test emits."""
    return []


@pytest.fixture
async def vault(storage, clock, events) -> Vault:
    """A loaded, uninitialised vault with cheap KDF parameters and a 10-minute idle timeout."""
    vault = Vault(
        storage, clock=clock, idle_timeout_s=IDLE_S, kdf_cost=CHEAP, on_event=events.append
    )
    await vault.load()
    return vault


@pytest.fixture
async def unlocked(vault) -> Vault:
    """The vault, initialised with PASSWORD and holding two provider keys."""
    await vault.init(PASSWORD)
    await vault.put_secret("openai", "provider_key", "sk-openai-0123456789")
    await vault.put_secret("anthropic", "provider_key", "sk-ant-0123456789")
    return vault
