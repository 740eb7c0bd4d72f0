from __future__ import annotations

from tokenhub.sim.thinking import (
    redacted_data,
    redacted_valid,
    sign_thinking,
    signature_valid,
    signing_key,
)


def test_signature_binds_text_and_key():
    """A signature verifies for its own text and key only, and is deterministic per seed."""
    key = signing_key(3)
    signature = sign_thinking(key, "step one")
    assert signature == sign_thinking(signing_key(3), "step one")
    assert signature_valid(key, "step one", signature)
    assert not signature_valid(key, "step one.", signature)
    assert not signature_valid(signing_key(4), "step one", signature)
    assert not signature_valid(key, "step one", "")


def test_named_key_overrides_the_seed():
    """A provider's thinking_key, not the seed, makes its key."""
    assert signing_key(1, "org") == signing_key(2, "org")
    assert signing_key(1, "org") != signing_key(1)


def test_redacted_data_verifies_only_under_its_key():
    """Redacted data made under a key verifies under it; tampered or foreign data does not."""
    key = signing_key(0)
    data = redacted_data(key, b"nonce")
    assert redacted_valid(key, data)
    assert not redacted_valid(signing_key(1), data)
    assert not redacted_valid(key, data[:-4] + "AAA=")
    assert not redacted_valid(key, "not base64!")
    assert not redacted_valid(key, sign_thinking(key, "x"))
