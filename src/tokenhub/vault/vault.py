"""The vault state machine: uninitialised → locked ⇄ unlocked.

``init`` creates the vault and leaves it unlocked (the admin has just proved the password
and usually adds keys next). ``unlock`` unwraps the data key; ``lock``, or ``idle_timeout_s``
without any use of key material, wipes it (see ``tokenhub.vault.memory``). Secrets are
decrypted on demand from an in-memory index of ciphertexts: AES-GCM takes about two
microseconds, so the request path stays fast while the vault holds no plaintext at rest
in memory, and locking leaves nothing decrypted behind. The index mirrors storage, so one
daemon owns a vault at a time. Argon2id runs in a worker thread to keep the loop free.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tokenhub.clock import Clock, SystemClock
from tokenhub.errors import (
    InvalidRequestError,
    VaultAlreadyInitialisedError,
    VaultCorruptError,
    VaultLockedError,
    VaultThrottledError,
    VaultUninitialisedError,
    VaultWrongPasswordError,
)
from tokenhub.vault import crypto
from tokenhub.vault.crypto import DEFAULT_KDF_COST, DecryptionError, KdfCost, KdfParams
from tokenhub.vault.memory import wipe
from tokenhub.vault.passwords import check_password_strength, read_password_file
from tokenhub.vault.status import VaultEvent, VaultState, VaultStatus
from tokenhub.vault.storage import VAULT_VERSION, SecretRow, VaultHeader, VaultStorage
from tokenhub.vault.throttle import Throttle

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT_S = 1800.0
PROVIDER_KEY = "provider_key"
MAX_SECRET_ID_CHARS = 128
MAX_PURPOSE_CHARS = 64


class Vault:
    """Escrows secrets under the admin password; satisfies ``dispatch.credentials.SecretStore``.

    Call ``load()`` once before use. ``idle_timeout_s=None`` disables auto-lock;
    ``kdf_cost`` applies to vaults created or re-keyed from now on, while unlock always
    honours the parameters stored with the vault. ``on_event`` receives every auditable
    event, failed attempts included.
    """

    def __init__(
        self,
        storage: VaultStorage,
        *,
        clock: Clock | None = None,
        idle_timeout_s: float | None = DEFAULT_IDLE_TIMEOUT_S,
        kdf_cost: KdfCost = DEFAULT_KDF_COST,
        on_event: Callable[[VaultEvent], None] | None = None,
    ) -> None:
        if idle_timeout_s is not None and idle_timeout_s <= 0:
            raise ValueError("idle_timeout_s must be positive (or None to disable)")
        self._storage = storage
        self._clock = clock or SystemClock()
        self._idle_timeout_s = idle_timeout_s
        self._kdf_cost = kdf_cost
        self._on_event = on_event
        self._throttle = Throttle(self._clock)
        self._mutex = asyncio.Lock()
        self._header: VaultHeader | None = None
        self._rows: dict[tuple[str, str], SecretRow] = {}
        self._secrets_version = 0
        self._data_key: bytearray | None = None
        self._unlocked_at: float | None = None
        self._last_used = 0.0

    async def load(self) -> None:
        """Read the header and the index of encrypted secrets from storage."""
        self._header = await self._storage.load_header()
        self._rows = {row.key: row for row in await self._storage.list_secrets()}

    @property
    def state(self) -> VaultState:
        """uninitialised, locked or unlocked (after applying the idle timeout)."""
        self.check_idle()
        if self._data_key is not None:
            return "unlocked"
        return "uninitialised" if self._header is None else "locked"

    @property
    def locked(self) -> bool:
        """True while the data key is not in memory (uninitialised counts as locked)."""
        return self.state != "unlocked"

    async def init(self, password: str) -> None:
        """Create the vault under ``password`` and leave it unlocked."""
        check_password_strength(password)
        async with self._mutex:
            await self.load()
            if self._header is not None:
                raise VaultAlreadyInitialisedError("the vault is already initialised")
            data_key = crypto.new_data_key()
            try:
                kdf, wrapped = await self._wrap(password, data_key)
                header = VaultHeader(VAULT_VERSION, kdf, wrapped, self._clock.time())
                await self._storage.save_header(header, replacing=None)
            except BaseException:
                wipe(data_key)
                raise
            self._header = header
            self._open(data_key)
        self._emit("init", "ok")

    async def unlock(self, password: str) -> None:
        """Unwrap the data key; wrong or throttled attempts raise and change nothing."""
        async with self._mutex:
            await self.load()
            data_key = await self._verify("unlock", password, self._require_header())
            if self._data_key is None:
                self._open(data_key)
            else:
                wipe(data_key)
                self._touch()
        self._emit("unlock", "ok")

    async def unlock_from_file(self, path: Path | str) -> None:
        """Unlock with the password in ``path`` (one trailing newline stripped)."""
        await self.unlock(read_password_file(Path(path)))

    def lock(self) -> None:
        """Wipe the data key from memory (no-op unless unlocked)."""
        self._close("manual")

    def check_idle(self) -> bool:
        """Lock when key material went unused for the idle timeout; True if it locked now."""
        if self._data_key is None or self._idle_timeout_s is None:
            return False
        if self._clock.monotonic() - self._last_used < self._idle_timeout_s:
            return False
        self._close("idle")
        return True

    async def rotate_password(self, old: str, new: str) -> None:
        """Re-wrap the data key under ``new``; no secret is re-encrypted, the state is kept."""
        check_password_strength(new)
        async with self._mutex:
            await self.load()
            header = self._require_header()
            data_key = await self._verify("rotate_password", old, header)
            try:
                kdf, wrapped = await self._wrap(new, data_key)
            finally:
                wipe(data_key)
            rotated = replace(header, kdf=kdf, wrapped_key=wrapped, rotated_at=self._clock.time())
            await self._storage.save_header(rotated, replacing=header)
            self._header = rotated
        self._emit("rotate_password", "ok")

    async def put_secret(self, secret_id: str, purpose: str, plaintext: str) -> None:
        """Encrypt and store a secret, replacing any previous value at that address."""
        _check_address(secret_id, purpose)
        async with self._mutex:
            key = self._key_in_use()
            aad = crypto.secret_aad(secret_id, purpose)
            nonce, ciphertext = crypto.encrypt(key, plaintext.encode("utf-8"), aad)
            row = SecretRow(secret_id, purpose, nonce, ciphertext)
            await self._storage.put_secret(row, self._clock.time())
            self._rows[row.key] = row
            self._secrets_version += 1

    def get_secret(self, secret_id: str, purpose: str) -> str | None:
        """The decrypted secret, or None; raises VaultLockedError while locked."""
        key = self._key_in_use()
        row = self._rows.get((secret_id, purpose))
        if row is None:
            return None
        aad = crypto.secret_aad(secret_id, purpose)
        try:
            return crypto.decrypt(key, row.nonce, row.ciphertext, aad).decode("utf-8")
        except DecryptionError:
            msg = f"secret {secret_id!r} ({purpose}) failed authentication"
            raise VaultCorruptError(msg) from None

    async def delete_secret(self, secret_id: str, purpose: str) -> bool:
        """Delete a secret (allowed while locked: it needs no key); True when it existed."""
        async with self._mutex:
            self._require_header()
            existed = await self._storage.delete_secret(secret_id, purpose)
            self._rows.pop((secret_id, purpose), None)
            self._secrets_version += 1
        return existed

    @property
    def secrets_version(self) -> int:
        """Grows whenever a secret is stored or deleted (routing caches key on it)."""
        return self._secrets_version

    def list_secrets(self) -> list[tuple[str, str]]:
        """Every (secret_id, purpose), sorted; works while locked (addresses are not secret)."""
        return sorted(self._rows)

    def provider_key(self, provider_id: str) -> str | None:
        """The escrowed API key of a provider, or None."""
        return self.get_secret(provider_id, PROVIDER_KEY)

    def status(self) -> VaultStatus:
        """A snapshot: state, timers, failed attempts and the stored KDF cost."""
        state = self.state
        locks_in = None
        if state == "unlocked" and self._idle_timeout_s is not None:
            idle = self._clock.monotonic() - self._last_used
            locks_in = max(0.0, self._idle_timeout_s - idle)
        header = self._header
        return VaultStatus(
            state=state,
            idle_timeout_s=self._idle_timeout_s,
            unlocked_since=self._unlocked_at,
            locks_in_s=locks_in,
            failed_attempts=self._throttle.failures,
            retry_after_s=self._throttle.retry_after(),
            version=None if header is None else header.version,
            kdf=None if header is None else header.kdf.cost,
            secrets=len(self._rows),
        )

    async def _verify(self, action: str, password: str, header: VaultHeader) -> bytearray:
        """The data key if ``password`` unwraps it; counts and throttles failures."""
        try:
            self._throttle.check()
        except VaultThrottledError as exc:
            self._emit(action, "throttled", retry_after=exc.retry_after)
            raise
        kek = await asyncio.to_thread(crypto.derive_key, password, header.kdf)
        try:
            data_key = crypto.unwrap_key(kek, header.wrapped_key)
        except DecryptionError:
            delay = self._throttle.failed()
            failures = self._throttle.failures
            self._emit(action, "wrong_password", failed_attempts=failures, retry_after=delay)
            raise VaultWrongPasswordError(
                "wrong vault password", failed_attempts=failures, retry_after=delay
            ) from None
        finally:
            wipe(kek)
        self._throttle.succeeded()
        return data_key

    async def _wrap(self, password: str, data_key: bytearray) -> tuple[KdfParams, bytes]:
        """Fresh KDF parameters (current cost, new salt) and ``data_key`` wrapped under them."""
        kdf = crypto.new_kdf_params(self._kdf_cost)
        kek = await asyncio.to_thread(crypto.derive_key, password, kdf)
        try:
            return kdf, crypto.wrap_key(kek, data_key)
        finally:
            wipe(kek)

    def _require_header(self) -> VaultHeader:
        if self._header is None:
            raise VaultUninitialisedError("the vault is not initialised; run vault init first")
        if self._header.version != VAULT_VERSION:
            raise VaultCorruptError(f"unsupported vault format version {self._header.version}")
        return self._header

    def _key_in_use(self) -> bytearray:
        """The data key for one use (resets the idle timer); raises while locked."""
        if self.state == "uninitialised":
            raise VaultUninitialisedError("the vault is not initialised; run vault init first")
        if self._data_key is None:
            raise VaultLockedError("the vault is locked; unlock it to use escrowed secrets")
        self._touch()
        return self._data_key

    def _open(self, data_key: bytearray) -> None:
        self._data_key = data_key
        self._unlocked_at = self._clock.time()
        self._touch()

    def _touch(self) -> None:
        self._last_used = self._clock.monotonic()

    def _close(self, reason: str) -> None:
        if self._data_key is None:
            return
        wipe(self._data_key)
        self._data_key = None
        self._unlocked_at = None
        self._emit("lock", "ok", reason=reason)

    def _emit(self, action: str, outcome: str, **details: Any) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(VaultEvent(action, outcome, details))
        except Exception:  # a broken audit hook must not leave the vault half-changed
            log.warning("vault event hook failed", exc_info=True)


def _check_address(secret_id: str, purpose: str) -> None:
    if not 0 < len(secret_id) <= MAX_SECRET_ID_CHARS:
        raise InvalidRequestError(
            f"secret_id must be 1..{MAX_SECRET_ID_CHARS} characters", param="secret_id"
        )
    if not 0 < len(purpose) <= MAX_PURPOSE_CHARS:
        raise InvalidRequestError(
            f"purpose must be 1..{MAX_PURPOSE_CHARS} characters", param="purpose"
        )
