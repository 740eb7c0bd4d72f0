"""An in-process app on an ephemeral port, with its own TOKENHUB_HOME."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tokenhub.config import load_settings
from tokenhub.server.app import create_app


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Settings a test module may override (as if given as CLI flags)."""
    return {}


@pytest.fixture
async def client(tokenhub_home, settings_overrides):
    """A test client for a fully started app (migrations applied, writer running)."""
    app = create_app(load_settings(settings_overrides))
    async with TestClient(TestServer(app)) as client:
        yield client
