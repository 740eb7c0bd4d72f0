"""The vault's cryptography as pure functions: Argon2id key derivation and AES-256-GCM.

Envelope encryption: a random 256-bit data key encrypts every secret; a key derived from
the admin password with Argon2id (RFC 9106) wraps the data key. Every AES-GCM call uses a
fresh random 96-bit nonce and binds associated data, so a ciphertext copied to another
row, or a wrapped key used as a secret, fails to authenticate.

``cryptography`` and ``argon2`` load on first use: a daemon whose vault is never
initialised or unlocked does not carry them (about 6.7 MiB of resident memory).
"""

from __future__ import annotations

import base64
import secrets
import struct
import unicodedata
from dataclasses import dataclass
from typing import Any

KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
KDF_ALGORITHM = "argon2id"
# Sanity bounds on stored parameters, so a damaged header cannot make unlock exhaust memory.
MAX_M_COST_KIB = 4 * 1024 * 1024
MAX_T_COST = 64
MAX_PARALLELISM = 64
DATA_KEY_AAD = b"tokenhub/vault/v1/data-key"
SECRET_AAD_PREFIX = b"tokenhub/vault/v1/secret"


class DecryptionError(Exception):
    """AES-GCM authentication failed: wrong key, or tampered nonce, ciphertext or context."""


@dataclass(frozen=True, slots=True)
class KdfCost:
    """Argon2id cost parameters: memory in KiB, passes, lanes."""

    m_cost_kib: int
    t_cost: int
    parallelism: int

    def __post_init__(self) -> None:
        """Refuse parameters Argon2 rejects or that would make unlock exhaust the machine."""
        if not 1 <= self.parallelism <= MAX_PARALLELISM:
            raise ValueError(f"parallelism must be 1..{MAX_PARALLELISM}")
        if not 1 <= self.t_cost <= MAX_T_COST:
            raise ValueError(f"t_cost must be 1..{MAX_T_COST}")
        if not 8 * self.parallelism <= self.m_cost_kib <= MAX_M_COST_KIB:
            raise ValueError(f"m_cost_kib must be 8*parallelism..{MAX_M_COST_KIB}")


# RFC 9106 section 4, second recommended option (for memory-constrained environments).
RFC9106_SECOND_OPTION = KdfCost(m_cost_kib=64 * 1024, t_cost=3, parallelism=4)
DEFAULT_KDF_COST = RFC9106_SECOND_OPTION


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Everything needed to re-derive a wrapping key: algorithm, salt and cost."""

    salt: bytes
    cost: KdfCost
    algorithm: str = KDF_ALGORITHM

    def to_json(self) -> dict[str, Any]:
        """The JSON form stored in the vault header (salt base64-encoded)."""
        return {
            "algorithm": self.algorithm,
            "salt": base64.b64encode(self.salt).decode("ascii"),
            "m_cost_kib": self.cost.m_cost_kib,
            "t_cost": self.cost.t_cost,
            "parallelism": self.cost.parallelism,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KdfParams:
        """Parse the stored form; raises ValueError when it is not a known, sane one."""
        if data.get("algorithm") != KDF_ALGORITHM:
            raise ValueError(f"unknown KDF algorithm {data.get('algorithm')!r}")
        salt = base64.b64decode(str(data["salt"]), validate=True)
        if len(salt) < SALT_BYTES:
            raise ValueError("KDF salt is too short")
        cost = KdfCost(int(data["m_cost_kib"]), int(data["t_cost"]), int(data["parallelism"]))
        return cls(salt=salt, cost=cost)


def new_kdf_params(cost: KdfCost) -> KdfParams:
    """Fresh parameters with a random 16-byte salt."""
    return KdfParams(salt=secrets.token_bytes(SALT_BYTES), cost=cost)


def normalise_password(password: str) -> str:
    """NFC normalisation, so a password typed as composed or decomposed characters matches."""
    return unicodedata.normalize("NFC", password)


def encode_password(password: str) -> bytes:
    """The password as the bytes the KDF sees: NFC-normalised UTF-8."""
    return normalise_password(password).encode("utf-8")


def derive_key(password: str, params: KdfParams) -> bytearray:
    """Derive the 256-bit key-wrapping key from the password with the given parameters."""
    from argon2.low_level import Type, hash_secret_raw

    raw = hash_secret_raw(
        secret=encode_password(password),
        salt=params.salt,
        time_cost=params.cost.t_cost,
        memory_cost=params.cost.m_cost_kib,
        parallelism=params.cost.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )
    return bytearray(raw)


def new_data_key() -> bytearray:
    """A random 256-bit data key, in a mutable buffer the caller can wipe."""
    return bytearray(secrets.token_bytes(KEY_BYTES))


def encrypt(key: bytearray, plaintext: bytes | bytearray, aad: bytes) -> tuple[bytes, bytes]:
    """AES-256-GCM with a fresh random nonce; returns (nonce, ciphertext with tag)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce, AESGCM(key).encrypt(nonce, plaintext, aad)


def decrypt(key: bytearray, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """Authenticate and decrypt; raises DecryptionError on any mismatch."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("authentication failed") from exc


def wrap_key(kek: bytearray, data_key: bytearray) -> bytes:
    """Encrypt the data key under the wrapping key; the blob is nonce || ciphertext."""
    nonce, ciphertext = encrypt(kek, data_key, DATA_KEY_AAD)
    return nonce + ciphertext


def unwrap_key(kek: bytearray, wrapped: bytes) -> bytearray:
    """Recover the data key; raises DecryptionError when the wrapping key is wrong."""
    nonce, ciphertext = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
    key = bytearray(decrypt(kek, nonce, ciphertext, DATA_KEY_AAD))
    if len(key) != KEY_BYTES:
        raise DecryptionError("unwrapped key has the wrong length")
    return key


def secret_aad(secret_id: str, purpose: str) -> bytes:
    """Associated data binding a ciphertext to its row: length-prefixed, so unambiguous."""
    parts = [SECRET_AAD_PREFIX, secret_id.encode("utf-8"), purpose.encode("utf-8")]
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)
