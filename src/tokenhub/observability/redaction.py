"""Scrub secrets from anything that might be logged, stored or echoed back.

Three nets: keys whose name says "secret" have their value replaced; values shaped like
well-known credentials (and passwords in URLs) are masked; and exact secret values
registered at run time (vault keys, admin tokens) are masked wherever they appear, even
inside free text.
"""

from __future__ import annotations

import re
import threading
from typing import Any

REDACTED = "[REDACTED]"
SECRET_KEY = re.compile(
    r"(authorization|api[-_]?key|password|passwd|secret|token|cookie|credential_value)",
    re.IGNORECASE,
)
SECRET_VALUE = re.compile(
    r"(Bearer\s+[A-Za-z0-9._~+/=-]+|sk-[A-Za-z0-9_-]{8,}|th-[A-Za-z0-9_-]{8,}"
    r"|xox[abp]-[A-Za-z0-9-]{8,})"
)
URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^/\s@]+@")
"""The password of a URL's user part (a proxy's, a database's): ``scheme://user:[REDACTED]@host``."""
MIN_SECRET_LEN = 6


class Redactor:
    """Masks secrets in strings and nested JSON-like values; thread-safe to extend."""

    def __init__(self) -> None:
        self._known: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def add_secret(self, value: str) -> None:
        """Mask this exact value from now on (ignored when too short to be a secret)."""
        if len(value) >= MIN_SECRET_LEN:
            with self._lock:
                self._known = self._known | {value}

    def text(self, value: str) -> str:
        """Return ``value`` with every known or credential-shaped secret masked."""
        for secret in self._known:
            if secret in value:
                value = value.replace(secret, REDACTED)
        if "@" in value:
            value = URL_PASSWORD.sub(rf"\1{REDACTED}@", value)
        return SECRET_VALUE.sub(REDACTED, value)

    def value(self, value: Any, key: str | None = None) -> Any:
        """Redact a JSON-like value; ``key`` is the name it is stored under, if any."""
        if key is not None and SECRET_KEY.search(key) and value not in (None, "", False):
            return REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


DEFAULT_REDACTOR = Redactor()
