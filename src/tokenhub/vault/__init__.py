"""The credential vault: provider keys encrypted under the admin password.

``crypto`` holds the pure AEAD and KDF functions, ``vault`` the state machine,
``storage`` the persistence protocol (implemented on SQL in ``tokenhub.store.vault_store``)
and ``memory`` what wiping key material can and cannot achieve in Python.
"""

from tokenhub.vault.crypto import DEFAULT_KDF_COST, RFC9106_SECOND_OPTION, KdfCost, KdfParams
from tokenhub.vault.passwords import MIN_PASSWORD_CHARS, PASSWORD_FILE_ENV
from tokenhub.vault.status import VaultEvent, VaultState, VaultStatus
from tokenhub.vault.storage import MemoryVaultStorage, SecretRow, VaultHeader, VaultStorage
from tokenhub.vault.vault import DEFAULT_IDLE_TIMEOUT_S, PROVIDER_KEY, Vault

__all__ = [
    "DEFAULT_IDLE_TIMEOUT_S",
    "DEFAULT_KDF_COST",
    "MIN_PASSWORD_CHARS",
    "PASSWORD_FILE_ENV",
    "PROVIDER_KEY",
    "RFC9106_SECOND_OPTION",
    "KdfCost",
    "KdfParams",
    "MemoryVaultStorage",
    "SecretRow",
    "Vault",
    "VaultEvent",
    "VaultHeader",
    "VaultState",
    "VaultStatus",
    "VaultStorage",
]
