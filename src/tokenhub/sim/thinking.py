"""Signatures for Anthropic ``thinking`` blocks and data for ``redacted_thinking`` blocks.

The real API signs each thinking block so a client cannot alter or invent reasoning it
sends back; the simulator does the same with an HMAC, so tests can see a gateway that
edits, re-encodes or forges thinking blocks get the real 400. The key comes from the
scenario seed (or a provider's ``thinking_key``), so a replayed scenario signs alike.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

_SIGNATURE_TAG = b"\x12sim-thinking\x01"
_REDACTED_TAG = b"\x12sim-redacted\x01"
_MAC_BYTES = 32


def signing_key(seed: int, key: str | None = None) -> bytes:
    """The secret a simulated provider signs with: ``key`` if given, else from ``seed``."""
    material = key if key is not None else f"tokenhub-sim/{seed}/thinking"
    return hashlib.sha256(material.encode()).digest()


def sign_thinking(key: bytes, thinking: str) -> str:
    """The opaque base64 signature of a thinking block's text under ``key``."""
    mac = hmac.new(key, _SIGNATURE_TAG + thinking.encode(), hashlib.sha256).digest()
    return base64.b64encode(_SIGNATURE_TAG + mac).decode()


def signature_valid(key: bytes, thinking: str, signature: str) -> bool:
    """Whether ``signature`` is what ``sign_thinking(key, thinking)`` produces."""
    return hmac.compare_digest(signature, sign_thinking(key, thinking))


def redacted_data(key: bytes, nonce: bytes) -> str:
    """An opaque ``redacted_thinking`` payload: ``nonce`` and its MAC, base64-encoded."""
    mac = hmac.new(key, _REDACTED_TAG + nonce, hashlib.sha256).digest()
    return base64.b64encode(_REDACTED_TAG + nonce + mac).decode()


def redacted_valid(key: bytes, data: str) -> bool:
    """Whether ``data`` is a ``redacted_thinking`` payload made with ``key``."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return False
    if not raw.startswith(_REDACTED_TAG) or len(raw) < len(_REDACTED_TAG) + _MAC_BYTES:
        return False
    nonce = raw[len(_REDACTED_TAG) : -_MAC_BYTES]
    return hmac.compare_digest(data, redacted_data(key, nonce))
