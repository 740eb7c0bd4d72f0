"""Containerfile and compose.yaml, checked statically (no container engine runs here)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml
from typer.testing import CliRunner

from tokenhub.cli.root import app

ROOT = Path(__file__).resolve().parents[1]


def containerfile() -> str:
    """The Containerfile with backslash continuations joined into single lines."""
    return (ROOT / "Containerfile").read_text(encoding="utf-8").replace("\\\n", " ")


def test_compose_parses_and_builds_from_containerfile():
    """compose.yaml is valid YAML whose service builds from the Containerfile."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    service = compose["services"]["tokenhub"]
    assert service["build"]["dockerfile"] == "Containerfile"
    assert (ROOT / service["build"]["context"] / "Containerfile").is_file()
    assert any(str(v).endswith(":/data") for v in service["volumes"])


def test_every_copied_path_exists():
    """Every COPY source (outside other build stages) exists in the repository."""
    for line in containerfile().splitlines():
        if not line.startswith("COPY ") or "--from=" in line:
            continue
        *sources, _dest = shlex.split(line)[1:]
        for source in sources:
            if not source.startswith("--"):
                assert (ROOT / source).exists(), source


def test_multistage_non_root_with_healthcheck_and_volume():
    """Two stages, a non-root USER, a HEALTHCHECK on /healthz, and a data volume."""
    text = containerfile()
    assert len(re.findall(r"^FROM ", text, re.MULTILINE)) >= 2
    user = re.findall(r"^USER (\S+)", text, re.MULTILINE)
    assert user
    assert user[-1] not in {"root", "0"}
    assert "/healthz" in re.search(r"^HEALTHCHECK .*$", text, re.MULTILINE).group(0)
    assert re.search(r'^VOLUME \["?/data"?\]', text, re.MULTILINE)


def test_command_is_a_real_cli_command():
    """The image's CMD runs a tokenhub command the CLI accepts."""
    cmd = re.search(r"^CMD (\[.*\])$", containerfile(), re.MULTILINE).group(1)
    argv = yaml.safe_load(cmd)
    assert argv[0] == "tokenhub"
    result = CliRunner().invoke(app, [*argv[1:], "--help"])
    assert result.exit_code == 0, result.output
