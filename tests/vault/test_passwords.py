import traceback

import pytest

from tokenhub.errors import VaultPasswordFileError, VaultWeakPasswordError
from tokenhub.vault.passwords import check_password_strength, read_password_file

CONTENT = "s3cret-content-xyz"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"pass phrase here\n", "pass phrase here"),
        (b"pass phrase here\r\n", "pass phrase here"),
        (b"pass phrase here", "pass phrase here"),
        (b"pass phrase here\n\n", "pass phrase here\n"),
        (b" spaced pass phrase \n", " spaced pass phrase "),
    ],
)
def test_reads_and_strips_one_trailing_newline(tmp_path, raw, expected):
    """Exactly one trailing newline (LF or CRLF) is removed; nothing else is trimmed."""
    path = tmp_path / "pw"
    path.write_bytes(raw)
    assert read_password_file(path) == expected


def test_missing_file(tmp_path):
    """A missing file names the path and says it does not exist."""
    with pytest.raises(VaultPasswordFileError, match="does not exist") as info:
        read_password_file(tmp_path / "nope")
    assert info.value.type == "vault_password_file"


def test_unreadable_file(tmp_path):
    """A path that cannot be read (here a directory) is a clear error."""
    with pytest.raises(VaultPasswordFileError, match="cannot be read"):
        read_password_file(tmp_path)


@pytest.mark.parametrize("raw", [b"", b"\n", b"\xff" + CONTENT.encode()])
def test_empty_or_binary_file_is_refused_without_echo(tmp_path, raw):
    """Empty and non-UTF-8 files are refused, and the error never shows the content."""
    path = tmp_path / "pw"
    path.write_bytes(raw)
    with pytest.raises(VaultPasswordFileError) as info:
        read_password_file(path)
    shown = "".join(traceback.format_exception(info.value))
    assert CONTENT not in shown
    assert "0xff" not in shown


def test_minimum_length_counts_characters():
    """Twelve characters pass (even multi-byte ones); eleven do not."""
    check_password_strength("\u00e9" * 12)
    with pytest.raises(VaultWeakPasswordError) as info:
        check_password_strength("x" * 11)
    assert info.value.details() == {"param": "password"}
