"""CLI parsing and output through Typer's CliRunner, and the client path as subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from tokenhub import __version__
from tokenhub.cli.root import app
from tokenhub.testing import start_daemon

runner = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None):
    """Invoke the CLI in-process."""
    return runner.invoke(app, list(args), env=env)


def test_version():
    """--version prints the version and exits 0."""
    result = cli("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"tokenhub {__version__}"


def test_python_dash_m_works():
    """`python -m tokenhub --version` runs the same CLI."""
    result = subprocess.run(
        [sys.executable, "-m", "tokenhub", "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.strip() == f"tokenhub {__version__}"


def test_unknown_option_is_a_usage_error():
    """A mistyped option exits 2 with click's usage message."""
    result = cli("status", "--jsn")
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_config_show_json_reports_sources(tokenhub_home):
    """Config show --json gives every setting with its value and source."""
    result = cli("config", "show", "--json", env={"TOKENHUB_PORT": "9100"})
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["settings"]["port"] == {"value": 9100, "source": "env:TOKENHUB_PORT"}
    assert data["settings"]["host"] == {"value": "127.0.0.1", "source": "default"}
    assert data["settings"]["socket"]["value"] == str(tokenhub_home / "run" / "tokenhub.sock")


def test_config_show_table_masks_password(tokenhub_home):
    """The table form masks a database password."""
    env = {"TOKENHUB_DB_URL": "postgresql+asyncpg://u:topsecret@h/db", "COLUMNS": "200"}
    result = cli("config", "show", env=env)
    assert result.exit_code == 0, result.output
    assert "topsecret" not in result.output
    assert "u:***@h/db" in result.output


def test_config_show_bad_value_exits_2(tokenhub_home):
    """A bad setting is one error line and exit status 2."""
    result = cli("config", "show", env={"TOKENHUB_LOG_LEVEL": "loud"})
    assert result.exit_code == 2
    assert result.output.startswith(
        "error: invalid setting 'log_level' from environment variable TOKENHUB_LOG_LEVEL:"
    )
    assert result.output.count("\n") == 1


def test_raise_errors_env_reraises(tokenhub_home):
    """With TOKENHUB_RAISE_ERRORS=1 the real exception propagates (for debugging)."""
    from tokenhub.errors import ConfigError

    result = cli("config", "show", env={"TOKENHUB_LOG_LEVEL": "loud", "TOKENHUB_RAISE_ERRORS": "1"})
    assert isinstance(result.exception, ConfigError)


def test_db_upgrade_and_status(tokenhub_home):
    """Db status reports an empty database, db upgrade migrates it, status then says so."""
    before = cli("db", "status", "--json")
    assert before.exit_code == 0, before.output
    assert json.loads(before.output)["current"] is None
    upgraded = cli("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert "empty ->" in upgraded.output
    after = json.loads(cli("db", "status", "--json").output)
    assert after["up_to_date"] is True


def test_db_status_unreachable_database(tokenhub_home):
    """An unreachable database is one line naming it, password masked, exit 1."""
    url = "postgresql+asyncpg://u:pw12345@127.0.0.1:1/none"
    result = cli("db", "status", "--db-url", url)
    assert result.exit_code == 1
    assert result.output.strip().startswith(
        "error: database postgresql+asyncpg://u:***@127.0.0.1:1/none is unavailable"
    )
    assert "pw12345" not in result.output


def test_status_without_daemon_cli_runner(tokenhub_home):
    """Status with no daemon prints the documented hint and exits 1."""
    result = cli("status")
    assert result.exit_code == 1
    assert "start one with 'tokenhub serve'" in result.output


def test_status_over_url_needs_token(tokenhub_home, tmp_path):
    """Over --url, status fails without a token and works with the rotated one."""
    with start_daemon() as daemon:
        denied = subprocess.run(
            [sys.executable, "-m", "tokenhub", "--url", daemon.url, "status"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert denied.returncode == 1
        assert denied.stderr.strip() == "error: admin authentication required"
        rotated = subprocess.run(
            [sys.executable, "-m", "tokenhub", "admin", "token", "rotate", "--json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        token_file = tmp_path / "token"
        token_file.write_text(json.loads(rotated.stdout)["token"], encoding="utf-8")
        allowed = subprocess.run(
            [
                sys.executable,
                "-m",
                "tokenhub",
                "--url",
                daemon.url,
                "--token-file",
                str(token_file),
                "status",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert allowed.returncode == 0, allowed.stderr
        assert daemon.url in allowed.stdout
        daemon.stop()


@pytest.mark.parametrize("args", [["config"], ["db"], ["admin"], ["admin", "token"]])
def test_groups_show_help(args):
    """Command groups without a subcommand show their help."""
    result = cli(*args)
    assert "Usage" in result.output
