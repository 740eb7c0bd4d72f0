"""Settings precedence, config-file discovery, and the exact wording of config errors."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tokenhub.config import effective_view, load_settings, mask_url
from tokenhub.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    """Write a file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("file_port", "env_port", "cli_port", "expected", "source"),
    [
        (None, None, None, 8080, "default"),
        (9001, None, None, 9001, "file"),
        (9001, "9002", None, 9002, "env:TOKENHUB_PORT"),
        (9001, "9002", 9003, 9003, "cli:--port"),
        (None, "9002", 9003, 9003, "cli:--port"),
        (None, "9002", None, 9002, "env:TOKENHUB_PORT"),
        (9001, None, 9003, 9003, "cli:--port"),
    ],
)
def test_precedence(tmp_path, file_port, env_port, cli_port, expected, source):
    """A CLI flag beats the environment, which beats the config file, which beats defaults."""
    env = {"TOKENHUB_HOME": str(tmp_path / "home")}
    if file_port is not None:
        write(tmp_path / "config" / "config.yaml", f"port: {file_port}\n")
    if env_port is not None:
        env["TOKENHUB_PORT"] = env_port
    loaded = load_settings({"port": cli_port}, environ=env, cwd=tmp_path)
    assert loaded.settings.port == expected
    assert loaded.sources["port"].startswith(source)


def test_config_file_discovery_order(tmp_path):
    """--config beats TOKENHUB_CONFIG, which beats ./config/config.yaml, then the user dir."""
    home = tmp_path / "home"
    user = write(home / "config" / "config.yaml", "port: 1\n")
    env = {"TOKENHUB_HOME": str(home)}
    assert load_settings(environ=env, cwd=tmp_path).config_file == user
    local = write(tmp_path / "config" / "config.yaml", "port: 2\n")
    assert load_settings(environ=env, cwd=tmp_path).config_file == local
    named = write(tmp_path / "named.yaml", "port: 3\n")
    env["TOKENHUB_CONFIG"] = str(named)
    assert load_settings(environ=env, cwd=tmp_path).settings.port == 3
    explicit = write(tmp_path / "explicit.yaml", "port: 4\n")
    loaded = load_settings(config_file=explicit, environ=env, cwd=tmp_path)
    assert loaded.settings.port == 4


def test_unknown_key_in_file_names_key_and_file(tmp_path):
    """An unknown YAML key is one error naming the key and the file."""
    path = write(tmp_path / "c.yaml", "prot: 80\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config_file=path, environ={})
    assert str(info.value) == f"unknown setting 'prot' in config file {path}"


def test_invalid_env_value_names_variable(tmp_path):
    """A bad environment value names the setting, the variable and the problem."""
    with pytest.raises(ConfigError) as info:
        load_settings(environ={"TOKENHUB_PORT": "eighty"}, cwd=tmp_path)
    assert str(info.value) == (
        "invalid setting 'port' from environment variable TOKENHUB_PORT:"
        " input should be a valid integer, unable to parse string as an integer"
    )


def test_unknown_env_variable_is_rejected(tmp_path):
    """A misspelt TOKENHUB_ variable is an error, not silently ignored."""
    with pytest.raises(ConfigError, match="unknown setting 'prot' from environment variable"):
        load_settings(environ={"TOKENHUB_PROT": "1"}, cwd=tmp_path)


def test_out_of_range_cli_value_names_option(tmp_path):
    """A value out of range from a flag names the flag."""
    with pytest.raises(ConfigError) as info:
        load_settings({"port": 70000}, environ={}, cwd=tmp_path)
    assert str(info.value).startswith("invalid setting 'port' from command-line option --port:")


def test_nested_setting_from_env_and_file(tmp_path):
    """Nested sections merge key by key across sources, each with its own source."""
    path = write(tmp_path / "c.yaml", "writer:\n  batch_size: 50\n  flush_interval_s: 2\n")
    env = {"TOKENHUB_WRITER__BATCH_SIZE": "7"}
    loaded = load_settings(config_file=path, environ=env, cwd=tmp_path)
    assert loaded.settings.writer.batch_size == 7
    assert loaded.settings.writer.flush_interval_s == 2
    assert loaded.sources["writer.batch_size"] == "env:TOKENHUB_WRITER__BATCH_SIZE"
    assert loaded.sources["writer.flush_interval_s"] == f"file:{path}"


def test_nested_unknown_key(tmp_path):
    """An unknown key inside a section is reported with its dotted path."""
    path = write(tmp_path / "c.yaml", "writer:\n  batchsize: 5\n")
    with pytest.raises(ConfigError, match=r"^unknown setting 'writer.batchsize' in config file"):
        load_settings(config_file=path, environ={}, cwd=tmp_path)


def test_bad_yaml_reports_line(tmp_path):
    """Unparseable YAML is reported with its line number."""
    path = write(tmp_path / "c.yaml", "port: 1\nhost: [\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line 3"):
        load_settings(config_file=path, environ={}, cwd=tmp_path)


def test_top_level_must_be_mapping(tmp_path):
    """A YAML list at the top level is rejected clearly."""
    path = write(tmp_path / "c.yaml", "- port\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_settings(config_file=path, environ={}, cwd=tmp_path)


def test_missing_named_config_file(tmp_path):
    """A config file named explicitly must exist."""
    with pytest.raises(ConfigError, match=r"does not exist"):
        load_settings(environ={"TOKENHUB_CONFIG": str(tmp_path / "no.yaml")}, cwd=tmp_path)


def test_paths_follow_tokenhub_home(tmp_path):
    """TOKENHUB_HOME relocates the socket and the SQLite database."""
    loaded = load_settings(environ={"TOKENHUB_HOME": str(tmp_path)}, cwd=tmp_path)
    assert loaded.socket_path == tmp_path / "run" / "tokenhub.sock"
    assert loaded.db_url == f"sqlite+aiosqlite:///{tmp_path}/data/tokenhub.db"


def test_effective_view_masks_database_password(tmp_path):
    """Config show never prints a database password."""
    env = {"TOKENHUB_DB_URL": "postgresql+asyncpg://app:hunter22@db/tokenhub"}
    rows = {k: (v, s) for k, v, s in effective_view(load_settings(environ=env, cwd=tmp_path))}
    assert rows["db_url"] == ("postgresql+asyncpg://app:***@db/tokenhub", "env:TOKENHUB_DB_URL")
    assert "hunter22" not in repr(rows)


def test_effective_view_masks_proxy_passwords(tmp_path):
    """`config show` shows a provider's proxy with its user and host, never its password."""
    provider = {
        "id": "oa",
        "type": "openai",
        "base_url": "https://api.openai.com/v1",
        "proxy": "http://alice:pr0xy-s3cret@proxy.corp:3128",
    }
    env = {"TOKENHUB_PROVIDERS": orjson.dumps([provider]).decode()}
    rows = {k: v for k, v, _ in effective_view(load_settings(environ=env, cwd=tmp_path))}
    assert rows["providers"][0]["proxy"] == "http://alice:***@proxy.corp:3128"
    assert "pr0xy-s3cret" not in repr(rows)


def test_mask_url_without_password():
    """URLs without credentials pass through unchanged."""
    assert mask_url("sqlite+aiosqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert mask_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_example_config_file_loads(tmp_path):
    """config/config.example.yaml is valid and sets every top-level setting."""
    from tokenhub.config import Settings

    loaded = load_settings(config_file=ROOT / "config" / "config.example.yaml", environ={})
    file_keys = {key.split(".")[0] for key, src in loaded.sources.items() if src.startswith("file")}
    assert file_keys == set(Settings.model_fields)


def test_env_example_documents_every_setting(tmp_path):
    """.env.example lists a TOKENHUB_ variable for every setting and they all load."""
    from tokenhub.config import Settings

    env: dict[str, str] = {}
    for raw in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        line = raw.strip().removeprefix("# ")
        if line.startswith("TOKENHUB_") and "=" in line:
            name, _, value = line.partition("=")
            env[name] = value
    documented = {name.removeprefix("TOKENHUB_").lower().split("__")[0] for name in env}
    assert set(Settings.model_fields) <= documented
    env.pop("TOKENHUB_CONFIG", None)
    env["TOKENHUB_HOME"] = str(tmp_path)
    load_settings(environ=env, cwd=tmp_path)


def test_empty_env_value_means_unset(tmp_path):
    """An empty TOKENHUB_ variable (common in .env files) leaves the setting at its default."""
    loaded = load_settings(environ={"TOKENHUB_SOCKET": "", "TOKENHUB_PORT": ""}, cwd=tmp_path)
    assert loaded.settings.socket is None
    assert loaded.sources["port"] == "default"


@pytest.mark.parametrize(
    ("host", "explicit", "required"),
    [
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
        ("0.0.0.0", None, True),
        ("10.1.2.3", None, True),
        ("0.0.0.0", False, False),
        ("127.0.0.1", True, True),
    ],
)
def test_require_api_key_default_follows_listener(tmp_path, host, explicit, required):
    """API keys are required by default exactly when the TCP listener is not loopback."""
    env = {"TOKENHUB_HOST": host}
    if explicit is not None:
        env["TOKENHUB_AUTH__REQUIRE_API_KEY"] = str(explicit).lower()
    assert load_settings(environ=env, cwd=tmp_path).require_api_key is required
