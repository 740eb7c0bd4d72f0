"""Where tokenhub keeps its files: platformdirs locations, or all under ``TOKENHUB_HOME``."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "tokenhub"
HOME_ENV = "TOKENHUB_HOME"


@dataclass(frozen=True, slots=True)
class Paths:
    """The three folders tokenhub uses: configuration, data (database) and runtime (socket)."""

    config_dir: Path
    data_dir: Path
    runtime_dir: Path

    @property
    def default_socket(self) -> Path:
        """The Unix socket the daemon listens on unless configured otherwise."""
        return self.runtime_dir / "tokenhub.sock"

    @property
    def pid_file(self) -> Path:
        """The pid file written by a running daemon."""
        return self.runtime_dir / "tokenhub.pid"

    @property
    def default_db_path(self) -> Path:
        """The SQLite database file used unless a database URL is configured."""
        return self.data_dir / "tokenhub.db"

    @property
    def default_config_file(self) -> Path:
        """The config file in the user's config folder."""
        return self.config_dir / "config.yaml"


def resolve_paths(environ: Mapping[str, str] | None = None) -> Paths:
    """Return the folders for this environment; ``TOKENHUB_HOME`` relocates all of them."""
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV)
    if home:
        root = Path(home).expanduser()
        return Paths(config_dir=root / "config", data_dir=root / "data", runtime_dir=root / "run")
    if sys.platform.startswith("linux") and not env.get("XDG_RUNTIME_DIR"):
        # No per-login runtime folder (containers, cron): the private state folder is
        # safer than platformdirs' shared /tmp fallback.
        runtime = platformdirs.user_state_dir(APP_NAME)
    else:
        runtime = platformdirs.user_runtime_dir(APP_NAME)
    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
        runtime_dir=Path(runtime),
    )
