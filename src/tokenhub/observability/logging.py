"""Structured JSON log lines (or plain text), every field passed through the redactor."""

from __future__ import annotations

import io
import logging
import sys
import time
from typing import Any, TextIO

import orjson

from tokenhub.observability.redaction import DEFAULT_REDACTOR, Redactor

# Attributes every LogRecord has; anything else was passed in ``extra=`` and is a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the ``extra`` fields."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a redacted JSON line."""
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": self.redactor.text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS:
                out[key] = self.redactor.value(value, key)
        if record.exc_info:
            out["exc"] = self.redactor.text(self.formatException(record.exc_info))
        return orjson.dumps(out, default=str).decode()


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal, redacted like the JSON form."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        """Render the record with its extra fields appended as key=value."""
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _RECORD_ATTRS}
        if extras:
            pairs = " ".join(f"{k}={self.redactor.value(v, k)}" for k, v in extras.items())
            line = f"{line} {pairs}"
        return self.redactor.text(line)


def configure_logging(
    level: str = "info",
    fmt: str = "json",
    *,
    stream: TextIO | None = None,
    redactor: Redactor = DEFAULT_REDACTOR,
) -> None:
    """Route the ``tokenhub`` and ``aiohttp`` loggers to one redacting handler."""
    handler = logging.StreamHandler(stream or _buffered_stderr())
    handler.setFormatter(JsonFormatter(redactor) if fmt == "json" else TextFormatter(redactor))
    for name in ("tokenhub", "aiohttp"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    # aiohttp's own access logger is replaced by ours; silence its default.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def _buffered_stderr() -> TextIO:
    """Standard error with a 64 KiB buffer instead of a write per line.

    Ordinary log records still reach the file at once (``StreamHandler`` flushes after
    each one); only the access lines, written directly by the access logger, wait in the
    buffer until the next record, the daemon's periodic ``flush_logs`` or exit.
    """
    raw = io.FileIO(sys.stderr.fileno(), "w", closefd=False)
    return io.TextIOWrapper(io.BufferedWriter(raw, buffer_size=64 * 1024), encoding="utf-8")


def flush_logs() -> None:
    """Write out whatever the tokenhub log handler has buffered."""
    for handler in logging.getLogger("tokenhub").handlers:
        handler.flush()
