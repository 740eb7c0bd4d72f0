"""Shared fixtures: every test gets its own TOKENHUB_HOME so no state leaks between tests."""

from __future__ import annotations

from pathlib import Path

import pytest

PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


@pytest.fixture(autouse=True)
def tokenhub_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Relocate all tokenhub state under a per-test folder and clear stray settings.

    The machine's outbound proxy variables go too: the simulator is local, and a test
    that wants a proxy sets its own.
    """
    import os

    for name in list(os.environ):
        if name.startswith("TOKENHUB_") or name.lower() in PROXY_VARIABLES:
            monkeypatch.delenv(name)
    home = tmp_path / "tokenhub-home"
    monkeypatch.setenv("TOKENHUB_HOME", str(home))
    monkeypatch.chdir(tmp_path)
    return home
