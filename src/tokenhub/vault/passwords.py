"""The vault password policy and the password file used for headless starts.

Errors about a password file name the file and the problem, never its content.
"""

from __future__ import annotations

from pathlib import Path

from tokenhub.errors import VaultPasswordFileError, VaultWeakPasswordError
from tokenhub.vault.crypto import normalise_password

MIN_PASSWORD_CHARS = 12
PASSWORD_FILE_ENV = "TOKENHUB_VAULT_PASSWORD_FILE"  # noqa: S105 - a variable name, not a password


def check_password_strength(password: str) -> None:
    """Raise VaultWeakPasswordError when ``password`` is shorter than the minimum."""
    if len(normalise_password(password)) < MIN_PASSWORD_CHARS:
        raise VaultWeakPasswordError(
            f"the vault password must be at least {MIN_PASSWORD_CHARS} characters"
        )


def read_password_file(path: Path) -> str:
    """The password stored in ``path``: UTF-8, with one trailing newline (LF or CRLF) removed."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise VaultPasswordFileError(f"vault password file {path} does not exist") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise VaultPasswordFileError(
            f"vault password file {path} cannot be read: {reason}"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise VaultPasswordFileError(f"vault password file {path} is not UTF-8 text") from None
    text = text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    if not text:
        raise VaultPasswordFileError(f"vault password file {path} is empty")
    return text
