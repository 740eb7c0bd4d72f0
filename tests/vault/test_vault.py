from dataclasses import replace

import pytest
from tests.vault.support import CHEAP, IDLE_S, NEW_PASSWORD, PASSWORD

from tokenhub.dispatch.credentials import Credentials
from tokenhub.errors import (
    ConflictError,
    InvalidRequestError,
    VaultAlreadyInitialisedError,
    VaultCorruptError,
    VaultLockedError,
    VaultThrottledError,
    VaultUninitialisedError,
    VaultWeakPasswordError,
    VaultWrongPasswordError,
)
from tokenhub.schemas import ProviderConfig
from tokenhub.vault import KdfCost, MemoryVaultStorage, Vault, VaultEvent


async def test_new_vault_is_uninitialised(vault):
    """An empty store gives an uninitialised vault that counts as locked."""
    assert vault.state == "uninitialised"
    assert vault.locked
    assert vault.status().kdf is None
    with pytest.raises(VaultUninitialisedError):
        vault.get_secret("openai", "provider_key")
    with pytest.raises(VaultUninitialisedError):
        await vault.unlock(PASSWORD)


async def test_init_leaves_the_vault_unlocked(vault, storage, events):
    """Initialising stores a header with the configured KDF cost and leaves the vault unlocked."""
    await vault.init(PASSWORD)
    assert vault.state == "unlocked"
    assert storage.header is not None
    assert storage.header.kdf.cost == CHEAP
    assert [(e.action, e.outcome) for e in events] == [("init", "ok")]


async def test_init_twice_is_refused(unlocked, storage):
    """A second init raises VaultAlreadyInitialisedError and keeps the first header."""
    header = storage.header
    with pytest.raises(VaultAlreadyInitialisedError):
        await unlocked.init(NEW_PASSWORD)
    assert storage.header is header


async def test_init_refuses_short_passwords(vault, storage):
    """A password under 12 characters is refused with a clear error; nothing is stored."""
    with pytest.raises(VaultWeakPasswordError, match="at least 12 characters") as info:
        await vault.init("short pass")
    assert info.value.status == 400
    assert storage.header is None


async def test_lock_and_unlock(unlocked):
    """Locking makes secrets unreadable; unlock with the password makes them readable again."""
    unlocked.lock()
    assert unlocked.state == "locked"
    await unlocked.unlock(PASSWORD)
    assert unlocked.state == "unlocked"
    assert unlocked.get_secret("openai", "provider_key") == "sk-openai-0123456789"


async def test_lock_wipes_the_data_key(unlocked, events):
    """Locking overwrites the in-memory data key with zeros before dropping it."""
    key = unlocked._data_key
    assert any(key)
    unlocked.lock()
    assert key == bytearray(32)
    assert unlocked._data_key is None
    assert events[-1] == VaultEvent("lock", "ok", {"reason": "manual"})


async def test_wrong_password_changes_nothing(unlocked, storage, events):
    """A wrong password raises VaultWrongPasswordError; the vault stays locked and unchanged."""
    unlocked.lock()
    header, rows = storage.header, dict(storage.rows)
    with pytest.raises(VaultWrongPasswordError) as info:
        await unlocked.unlock("not the password")
    assert (info.value.status, info.value.type) == (403, "vault_wrong_password")
    assert unlocked.state == "locked"
    assert (storage.header, storage.rows) == (header, rows)
    assert events[-1] == VaultEvent(
        "unlock", "wrong_password", {"failed_attempts": 1, "retry_after": 0.0}
    )
    assert "not the password" not in repr(events)


async def test_repeated_wrong_passwords_are_throttled(unlocked, clock, events):
    """The third failure starts a 1 s penalty; inside it even the right password is refused."""
    unlocked.lock()
    for _ in range(3):
        with pytest.raises(VaultWrongPasswordError):
            await unlocked.unlock("not the password")
    with pytest.raises(VaultThrottledError) as info:
        await unlocked.unlock(PASSWORD)
    assert (info.value.status, info.value.retry_after) == (429, 1.0)
    assert events[-1] == VaultEvent("unlock", "throttled", {"retry_after": 1.0})
    assert unlocked.status().failed_attempts == 3
    clock.advance(1.0)
    with pytest.raises(VaultWrongPasswordError) as info:
        await unlocked.unlock("not the password")
    assert info.value.retry_after == 2.0


async def test_success_resets_the_failure_counter(unlocked, clock):
    """After the penalty passes, the right password unlocks and resets the counter."""
    unlocked.lock()
    for _ in range(4):
        clock.advance(60)
        with pytest.raises(VaultWrongPasswordError):
            await unlocked.unlock("not the password")
    clock.advance(2.0)
    await unlocked.unlock(PASSWORD)
    status = unlocked.status()
    assert (status.state, status.failed_attempts, status.retry_after_s) == ("unlocked", 0, 0.0)


async def test_idle_timeout_locks_and_wipes(unlocked, clock, events):
    """check_idle locks after idle_timeout_s without key use and zeroes the data key."""
    key = unlocked._data_key
    clock.advance(IDLE_S - 1)
    assert not unlocked.check_idle()
    clock.advance(1)
    assert unlocked.check_idle()
    assert key == bytearray(32)
    assert unlocked.state == "locked"
    assert events[-1] == VaultEvent("lock", "ok", {"reason": "idle"})


async def test_access_after_idle_timeout_raises_locked(unlocked, clock):
    """Without any check_idle call, reading a secret after the timeout locks and raises."""
    key = unlocked._data_key
    clock.advance(IDLE_S)
    with pytest.raises(VaultLockedError):
        unlocked.provider_key("openai")
    assert key == bytearray(32)


async def test_key_use_resets_the_idle_timer(unlocked, clock):
    """Reading a secret counts as use and restarts the idle countdown."""
    clock.advance(IDLE_S - 1)
    assert unlocked.get_secret("openai", "provider_key") is not None
    clock.advance(IDLE_S - 1)
    assert not unlocked.check_idle()
    assert unlocked.status().locks_in_s == 1.0


async def test_idle_timeout_can_be_disabled(storage, clock):
    """idle_timeout_s=None never auto-locks."""
    vault = Vault(storage, clock=clock, idle_timeout_s=None, kdf_cost=CHEAP)
    await vault.init(PASSWORD)
    clock.advance(10 * 365 * 86400)
    assert vault.state == "unlocked"
    assert vault.status().locks_in_s is None


async def test_locked_vault_refuses_secret_use(unlocked):
    """While locked, get, put and provider_key raise VaultLockedError (503)."""
    unlocked.lock()
    with pytest.raises(VaultLockedError) as info:
        unlocked.get_secret("openai", "provider_key")
    assert info.value.status == 503
    with pytest.raises(VaultLockedError):
        unlocked.provider_key("openai")
    with pytest.raises(VaultLockedError):
        await unlocked.put_secret("vllm", "provider_key", "token-123456")


async def test_list_and_delete_work_while_locked(unlocked):
    """Secret addresses are listed and deletable while locked; they are not secret."""
    unlocked.lock()
    assert unlocked.list_secrets() == [("anthropic", "provider_key"), ("openai", "provider_key")]
    assert await unlocked.delete_secret("openai", "provider_key")
    assert not await unlocked.delete_secret("openai", "provider_key")
    assert unlocked.list_secrets() == [("anthropic", "provider_key")]


async def test_put_replaces_and_missing_is_none(unlocked, storage):
    """Putting again overwrites with a fresh nonce; an unknown address reads as None."""
    before = storage.rows[("openai", "provider_key")]
    await unlocked.put_secret("openai", "provider_key", "sk-openai-rotated")
    assert unlocked.get_secret("openai", "provider_key") == "sk-openai-rotated"
    assert storage.rows[("openai", "provider_key")].nonce != before.nonce
    assert unlocked.get_secret("nobody", "provider_key") is None


async def test_rows_hold_no_plaintext(unlocked, storage):
    """What reaches storage is ciphertext: the secret's bytes appear in no stored field."""
    for row in storage.rows.values():
        assert b"0123456789" not in row.nonce + row.ciphertext


async def test_ciphertext_swapped_between_rows_is_detected(unlocked, storage):
    """A ciphertext moved to another row's address fails with VaultCorruptError."""
    openai = storage.rows[("openai", "provider_key")]
    storage.rows[("anthropic", "provider_key")] = replace(openai, secret_id="anthropic")
    await unlocked.load()
    with pytest.raises(VaultCorruptError):
        unlocked.get_secret("anthropic", "provider_key")


async def test_rotation_rewraps_without_reencrypting(unlocked, storage, clock):
    """Rotation keeps secret rows byte-identical and readable; the old password stops working."""
    rows = dict(storage.rows)
    old_header = storage.header
    clock.advance(5)
    await unlocked.rotate_password(PASSWORD, NEW_PASSWORD)
    assert storage.rows == rows
    assert storage.header.kdf.salt != old_header.kdf.salt
    assert storage.header.created_at == old_header.created_at
    assert storage.header.rotated_at == clock.now
    assert unlocked.state == "unlocked"
    unlocked.lock()
    with pytest.raises(VaultWrongPasswordError):
        await unlocked.unlock(PASSWORD)
    await unlocked.unlock(NEW_PASSWORD)
    assert unlocked.get_secret("openai", "provider_key") == "sk-openai-0123456789"
    assert unlocked.get_secret("anthropic", "provider_key") == "sk-ant-0123456789"


async def test_rotation_verifies_and_counts_the_old_password(unlocked, storage, events):
    """A wrong old password is a failed attempt; the header stays as it was."""
    header = storage.header
    with pytest.raises(VaultWrongPasswordError):
        await unlocked.rotate_password("not the password", NEW_PASSWORD)
    assert storage.header is header
    assert unlocked.status().failed_attempts == 1
    assert events[-1].action == "rotate_password"
    with pytest.raises(VaultWeakPasswordError):
        await unlocked.rotate_password(PASSWORD, "short")


async def test_stored_kdf_parameters_are_honoured(unlocked, storage, clock):
    """A vault created with cost A unlocks with A under a different configured cost."""
    stronger = KdfCost(m_cost_kib=16, t_cost=2, parallelism=2)
    later = Vault(storage, clock=clock, kdf_cost=stronger)
    await later.load()
    await later.unlock(PASSWORD)
    assert later.status().kdf == CHEAP
    await later.rotate_password(PASSWORD, NEW_PASSWORD)
    assert later.status().kdf == stronger


async def test_real_vault_uses_rfc9106_defaults(storage):
    """A vault built without a KDF argument stores at least RFC 9106's second option."""
    vault = Vault(storage)
    await vault.init(PASSWORD)
    cost = storage.header.kdf.cost
    assert cost.m_cost_kib >= 65536
    assert cost.t_cost >= 3
    assert cost.parallelism >= 4
    assert len(storage.header.kdf.salt) == 16


class FailingHeaderStorage(MemoryVaultStorage):
    """Storage whose header write fails half-way: the transaction never commits."""

    fail = False

    async def save_header(self, header, *, replacing):
        """Fail before the write takes effect when ``fail`` is set."""
        if self.fail:
            raise OSError("disk full")
        await super().save_header(header, replacing=replacing)


async def test_failed_init_leaves_the_vault_uninitialised(clock):
    """When the header write fails, init raises and the vault stays uninitialised."""
    storage = FailingHeaderStorage()
    storage.fail = True
    vault = Vault(storage, clock=clock, kdf_cost=CHEAP)
    with pytest.raises(OSError, match="disk full"):
        await vault.init(PASSWORD)
    assert (vault.state, storage.header) == ("uninitialised", None)


async def test_failed_rotation_keeps_the_old_header(clock):
    """When the header write fails, rotation raises and the old password still works."""
    storage = FailingHeaderStorage()
    vault = Vault(storage, clock=clock, kdf_cost=CHEAP)
    await vault.init(PASSWORD)
    await vault.put_secret("openai", "provider_key", "sk-openai-0123456789")
    header = storage.header
    storage.fail = True
    with pytest.raises(OSError, match="disk full"):
        await vault.rotate_password(PASSWORD, NEW_PASSWORD)
    storage.fail = False
    assert storage.header is header
    vault.lock()
    with pytest.raises(VaultWrongPasswordError):
        await vault.unlock(NEW_PASSWORD)
    await vault.unlock(PASSWORD)
    assert vault.provider_key("openai") == "sk-openai-0123456789"


async def test_concurrent_rotation_is_a_conflict(unlocked, storage):
    """Replacing a header that changed since it was read raises ConflictError."""
    stale = storage.header
    await unlocked.rotate_password(PASSWORD, NEW_PASSWORD)
    with pytest.raises(ConflictError):
        await storage.save_header(stale, replacing=stale)


async def test_unlock_from_file(unlocked, tmp_path):
    """A password file with a trailing newline unlocks the vault."""
    unlocked.lock()
    path = tmp_path / "vault-password"
    path.write_text(PASSWORD + "\n", encoding="utf-8")
    await unlocked.unlock_from_file(path)
    assert unlocked.state == "unlocked"


async def test_wrong_password_file_does_not_echo_it(unlocked, tmp_path):
    """A wrong password from a file fails without its content in the error."""
    unlocked.lock()
    path = tmp_path / "vault-password"
    path.write_text("not the password\n", encoding="utf-8")
    with pytest.raises(VaultWrongPasswordError) as info:
        await unlocked.unlock_from_file(str(path))
    assert "not the password" not in str(info.value)


async def test_status_reports_timers_and_parameters(unlocked, clock):
    """status() gives state, unlock time, time to auto-lock and the stored KDF cost."""
    unlocked_at = clock.now
    clock.advance(100)
    status = unlocked.status().as_dict()
    assert status == {
        "state": "unlocked",
        "idle_timeout_s": IDLE_S,
        "unlocked_since": unlocked_at,
        "locks_in_s": IDLE_S - 100,
        "failed_attempts": 0,
        "retry_after_s": 0.0,
        "version": 1,
        "kdf": {"algorithm": "argon2id", "m_cost_kib": 8, "t_cost": 1, "parallelism": 1},
        "secrets": 2,
    }


async def test_satisfies_the_gateway_secret_store(unlocked):
    """The gateway's credential resolver reads escrowed provider keys through the vault."""
    credentials = Credentials(environ={}, vault=unlocked)
    provider = ProviderConfig(
        id="openai", type="openai", base_url="https://api.openai.com/v1", credential="escrow"
    )
    assert credentials.problem(provider) is None
    assert credentials.key(provider) == "sk-openai-0123456789"
    unlocked.lock()
    assert credentials.problem(provider) == "vault_locked"
    assert credentials.key(provider) is None


async def test_a_failing_event_hook_does_not_break_unlock(storage, clock):
    """An exception in the audit hook is logged; the vault still changes state."""

    def broken(event):
        raise RuntimeError("audit down")

    vault = Vault(storage, clock=clock, kdf_cost=CHEAP, on_event=broken)
    await vault.init(PASSWORD)
    vault.lock()
    await vault.unlock(PASSWORD)
    assert vault.state == "unlocked"


async def test_unlock_while_unlocked_keeps_the_key(unlocked):
    """Unlocking an unlocked vault checks the password but keeps the same data key."""
    key = unlocked._data_key
    await unlocked.unlock(PASSWORD)
    assert unlocked._data_key is key
    with pytest.raises(VaultWrongPasswordError):
        await unlocked.unlock("not the password")
    assert unlocked.state == "unlocked"


@pytest.mark.parametrize(
    ("secret_id", "purpose", "param"),
    [("", "provider_key", "secret_id"), ("x" * 129, "p", "secret_id"), ("openai", "", "purpose")],
)
async def test_put_validates_the_address(unlocked, secret_id, purpose, param):
    """Empty or over-long addresses are refused as invalid requests naming the field."""
    with pytest.raises(InvalidRequestError) as info:
        await unlocked.put_secret(secret_id, purpose, "value")
    assert info.value.param == param


def test_idle_timeout_must_be_positive(storage):
    """A zero or negative idle timeout is a configuration mistake."""
    with pytest.raises(ValueError):
        Vault(storage, idle_timeout_s=0)
