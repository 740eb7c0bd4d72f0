import pytest

from tokenhub.vault import crypto
from tokenhub.vault.crypto import (
    DEFAULT_KDF_COST,
    RFC9106_SECOND_OPTION,
    DecryptionError,
    KdfCost,
    KdfParams,
)

CHEAP = KdfCost(m_cost_kib=8, t_cost=1, parallelism=1)
AAD = crypto.secret_aad("openai", "provider_key")


def test_round_trip():
    """What encrypt seals, decrypt opens with the same key and associated data."""
    key = crypto.new_data_key()
    nonce, ciphertext = crypto.encrypt(key, b"sk-secret", AAD)
    assert crypto.decrypt(key, nonce, ciphertext, AAD) == b"sk-secret"
    assert b"sk-secret" not in ciphertext


def test_wrong_key_fails():
    """Another key cannot open a ciphertext."""
    nonce, ciphertext = crypto.encrypt(crypto.new_data_key(), b"sk-secret", AAD)
    with pytest.raises(DecryptionError):
        crypto.decrypt(crypto.new_data_key(), nonce, ciphertext, AAD)


def test_wrapped_key_round_trip_and_wrong_password():
    """The data key unwraps under the right password and not under a wrong one."""
    params = crypto.new_kdf_params(CHEAP)
    data_key = crypto.new_data_key()
    wrapped = crypto.wrap_key(crypto.derive_key("right password!", params), data_key)
    assert crypto.unwrap_key(crypto.derive_key("right password!", params), wrapped) == data_key
    with pytest.raises(DecryptionError):
        crypto.unwrap_key(crypto.derive_key("wrong password!", params), wrapped)


def flip(data: bytes, index: int = 0) -> bytes:
    """``data`` with one bit flipped."""
    out = bytearray(data)
    out[index] ^= 1
    return bytes(out)


def test_tampered_ciphertext_fails():
    """A single flipped bit in the ciphertext or its tag fails authentication."""
    key = crypto.new_data_key()
    nonce, ciphertext = crypto.encrypt(key, b"sk-secret", AAD)
    for index in (0, len(ciphertext) - 1):
        with pytest.raises(DecryptionError):
            crypto.decrypt(key, nonce, flip(ciphertext, index), AAD)


def test_tampered_nonce_fails():
    """A changed nonce fails authentication."""
    key = crypto.new_data_key()
    nonce, ciphertext = crypto.encrypt(key, b"sk-secret", AAD)
    with pytest.raises(DecryptionError):
        crypto.decrypt(key, flip(nonce), ciphertext, AAD)


@pytest.mark.parametrize(
    ("secret_id", "purpose"), [("anthropic", "provider_key"), ("openai", "webhook")]
)
def test_ciphertext_moved_to_another_row_fails(secret_id, purpose):
    """A ciphertext copied to another secret_id or purpose fails authentication."""
    key = crypto.new_data_key()
    nonce, ciphertext = crypto.encrypt(key, b"sk-secret", AAD)
    with pytest.raises(DecryptionError):
        crypto.decrypt(key, nonce, ciphertext, crypto.secret_aad(secret_id, purpose))


def test_associated_data_is_unambiguous():
    """Moving characters between secret_id and purpose changes the associated data."""
    assert crypto.secret_aad("ab", "c") != crypto.secret_aad("a", "bc")


def test_wrapped_key_is_not_a_secret_ciphertext():
    """A wrapped data key cannot be passed off as a secret row (distinct contexts)."""
    kek = crypto.new_data_key()
    wrapped = crypto.wrap_key(kek, crypto.new_data_key())
    with pytest.raises(DecryptionError):
        crypto.decrypt(kek, wrapped[:12], wrapped[12:], AAD)


def test_fresh_nonce_each_encryption():
    """The same plaintext encrypted twice gives different nonces and ciphertexts."""
    key = crypto.new_data_key()
    first = crypto.encrypt(key, b"sk-secret", AAD)
    second = crypto.encrypt(key, b"sk-secret", AAD)
    assert first[0] != second[0]
    assert first[1] != second[1]
    assert len(first[0]) == 12


def test_defaults_meet_rfc9106_second_option():
    """The default Argon2id cost is at least RFC 9106's second option (64 MiB, t=3, p=4)."""
    assert KdfCost(m_cost_kib=65536, t_cost=3, parallelism=4) == RFC9106_SECOND_OPTION
    assert DEFAULT_KDF_COST.m_cost_kib >= 65536
    assert DEFAULT_KDF_COST.t_cost >= 3
    assert DEFAULT_KDF_COST.parallelism >= 4


def test_new_params_use_random_16_byte_salts():
    """Each new parameter set gets its own 16-byte salt."""
    first, second = crypto.new_kdf_params(CHEAP), crypto.new_kdf_params(CHEAP)
    assert len(first.salt) == 16
    assert first.salt != second.salt


def test_derived_key_depends_on_every_parameter():
    """Changing the salt or any cost parameter changes the derived key."""
    params = crypto.new_kdf_params(CHEAP)
    base = crypto.derive_key("a long password", params)
    variants = [
        KdfParams(salt=bytes(16), cost=CHEAP),
        KdfParams(salt=params.salt, cost=KdfCost(16, 1, 1)),
        KdfParams(salt=params.salt, cost=KdfCost(8, 2, 1)),
        KdfParams(salt=params.salt, cost=KdfCost(16, 1, 2)),
    ]
    assert all(crypto.derive_key("a long password", v) != base for v in variants)
    assert len(base) == 32


def test_password_is_nfc_normalised():
    """A password typed with composed or decomposed accents derives the same key."""
    params = crypto.new_kdf_params(CHEAP)
    composed = crypto.derive_key("caf\u00e9 au lait!!", params)
    assert crypto.derive_key("cafe\u0301 au lait!!", params) == composed


def test_params_json_round_trip():
    """Stored KDF parameters parse back to the same values; the salt is base64 text."""
    params = crypto.new_kdf_params(CHEAP)
    data = params.to_json()
    assert data["algorithm"] == "argon2id"
    assert isinstance(data["salt"], str)
    assert KdfParams.from_json(data) == params


@pytest.mark.parametrize(
    "change",
    [
        {"algorithm": "scrypt"},
        {"salt": "c2hvcnQ="},
        {"m_cost_kib": 8 * 1024 * 1024},
        {"t_cost": 0},
        {"parallelism": 1000},
    ],
)
def test_params_json_rejects_unknown_or_insane_values(change):
    """Unknown algorithms, short salts and absurd costs are refused, not run."""
    data = crypto.new_kdf_params(CHEAP).to_json() | change
    with pytest.raises(ValueError):
        KdfParams.from_json(data)
