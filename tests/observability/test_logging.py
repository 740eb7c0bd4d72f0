"""Log lines are JSON objects with the extra fields, passed through the redactor."""

from __future__ import annotations

import io
import json
import logging

import pytest

from tokenhub.observability.logging import configure_logging
from tokenhub.observability.redaction import Redactor


@pytest.fixture(autouse=True)
def restore_loggers():
    """Put the tokenhub and aiohttp loggers back as they were."""
    saved = {
        name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level)
        for name in ("tokenhub", "aiohttp")
    }
    yield
    for name, (handlers, level) in saved.items():
        logging.getLogger(name).handlers[:] = handlers
        logging.getLogger(name).setLevel(level)


def fail_with_key() -> None:
    """Raise an error whose message holds a key."""
    raise ValueError("bad key sk-abcdefghijklmnop")


def test_json_lines_carry_fields_and_redact():
    """A log call becomes one JSON line; secret fields and shapes are masked."""
    stream = io.StringIO()
    redactor = Redactor()
    redactor.add_secret("vault-password-123")
    configure_logging("info", "json", stream=stream, redactor=redactor)
    log = logging.getLogger("tokenhub.test")
    log.info(
        "calling with key sk-live-abcdefghijk",
        extra={"authorization": "Bearer zzz", "attempt": 2, "note": "vault-password-123"},
    )
    line = json.loads(stream.getvalue().strip())
    assert line["level"] == "info"
    assert line["logger"] == "tokenhub.test"
    assert line["attempt"] == 2
    assert line["authorization"] == "[REDACTED]"
    assert line["note"] == "[REDACTED]"
    assert "sk-live-abcdefghijk" not in line["msg"]
    assert line["msg"] == "calling with key [REDACTED]"


def test_text_format_is_redacted_too():
    """The human-readable format masks the same things."""
    stream = io.StringIO()
    configure_logging("debug", "text", stream=stream, redactor=Redactor())
    logging.getLogger("tokenhub.test").debug("x", extra={"api_key": "secret-value"})
    assert "secret-value" not in stream.getvalue()
    assert "api_key=[REDACTED]" in stream.getvalue()


def test_exceptions_are_logged_redacted():
    """A traceback in the log passes through the redactor."""
    stream = io.StringIO()
    configure_logging("info", "json", stream=stream, redactor=Redactor())
    try:
        fail_with_key()
    except ValueError:
        logging.getLogger("tokenhub.test").exception("failed")
    line = json.loads(stream.getvalue().strip())
    assert "sk-abcdefghijklmnop" not in line["exc"]
    assert line["exc"].startswith("Traceback (most recent call last):")
    assert line["exc"].endswith("ValueError: bad key [REDACTED]")
