"""Shared fixtures: every test gets its own TOKENHUB_HOME so no state leaks between tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def tokenhub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relocate all tokenhub state under a per-test folder and clear stray settings."""
    import os

    for name in list(os.environ):
        if name.startswith("TOKENHUB_"):
            monkeypatch.delenv(name)
    home = tmp_path / "tokenhub-home"
    monkeypatch.setenv("TOKENHUB_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home
