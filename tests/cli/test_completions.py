"""Shell completions: checked-in scripts match the CLI, and bash really completes with them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tokenhub.cli.completions import all_scripts
from tokenhub.cli.root import app

COMPLETIONS = Path(__file__).resolve().parents[2] / "completions"


@pytest.mark.parametrize("name", sorted(all_scripts(app)))
def test_checked_in_completions_are_current(name):
    """Each file in completions/ equals what the current CLI generates (run `make completions`)."""
    expected = all_scripts(app)[name]
    assert (COMPLETIONS / name).read_text(encoding="utf-8") == expected, (
        f"completions/{name} is stale: run `make completions`"
    )


def bash_complete(*words: str) -> list[str]:
    """Run the bash completion function on WORDS and return its candidates."""
    script = COMPLETIONS / "tokenhub.bash"
    array = " ".join(f'"{w}"' for w in words)
    command = (
        f"source {script}; COMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; "
        '_tokenhub; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, check=True, timeout=10
    )
    return result.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_and_options():
    """In bash, Tab offers subcommands at each level and a command's own options."""
    assert bash_complete("tokenhub", "s") == ["serve", "sim", "status"]
    assert bash_complete("tokenhub", "db", "") == ["status", "upgrade", "--help"]
    assert "--db-url" in bash_complete("tokenhub", "serve", "--")
    assert bash_complete("tokenhub", "status", "--j") == ["--json"]
