"""Code-health rules that no linter enforces, checked over every Python file we own."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("src", "tests", "scripts", "bench")
# A lint or type-check suppression inside a comment, then whatever follows it.
SUPPRESSION = re.compile(
    r"#\s*(?:(?P<noqa>noqa(?::\s*[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)?)"
    r"|(?P<ignore>type:\s*ignore(?:\[[^\]]*\])?))(?P<rest>.*)"
)
# The reason, a few words saying why the rule does not apply here: after " - " for noqa;
# after a second "#" for type: ignore, as mypy rejects any other text behind one.
NOQA_REASON = re.compile(r"^ - \S.{8,}")
IGNORE_REASON = re.compile(r"^\s+# \S.{8,}")


def python_files() -> list[Path]:
    """Every Python file under the checked folders, virtual environments left out.

    ``.venv`` and the benchmark's ``bench/.venv-tools`` and ``bench/.venv-litellm``.
    """
    found = []
    for folder in CHECKED:
        found += [
            p
            for p in (ROOT / folder).rglob("*.py")
            if not any(part.startswith(".venv") for part in p.relative_to(ROOT).parts)
        ]
    return sorted(found)


def unexplained(source: str) -> list[tuple[int, str]]:
    """(line, comment) of every suppression in ``source`` that gives no reason."""
    return [
        (token.start[0], token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
        for match in SUPPRESSION.finditer(token.string)
        if not (NOQA_REASON if match.group("noqa") else IGNORE_REASON).match(match.group("rest"))
    ]


def test_the_check_tells_reasons_from_bare_suppressions():
    """A suppression passes only with its reason (noqa: after ' - '); bare or vague ones fail."""
    bad = [
        "x = 1  # noqa",
        "x = 1  # noqa: E501",
        "x = 1  # noqa: E501, S101",
        "x = 1  # type: ignore",
        "x = 1  # type: ignore[attr-defined]",
        "x = 1  # noqa: E501 (a reason, but not in the house form)",
        "x = 1  # noqa: E501 - ok",
        "x = 1  # type: ignore[attr-defined] - mypy rejects text after the code",
        "x = 1  # type: ignore[attr-defined]  # ok",
    ]
    good = [
        "x = 1  # noqa: E501 - a URL that cannot wrap",
        "x = 1  # noqa: E501, S101 - a URL that cannot wrap",
        "x = 1  # type: ignore[attr-defined]  # SQLModel adds it at class creation",
        "x = '# noqa'  # a string is not a comment",
    ]
    assert [len(unexplained(line)) for line in bad] == [1] * len(bad)
    assert [unexplained(line) for line in good] == [[]] * len(good)


def test_every_noqa_and_type_ignore_says_why():
    """Each noqa and type: ignore in src, tests, scripts and bench gives its reason."""
    missing = [
        f"{path.relative_to(ROOT)}:{line}: {comment}"
        for path in python_files()
        for line, comment in unexplained(path.read_text(encoding="utf-8"))
    ]
    assert missing == [], "\n".join(missing)
