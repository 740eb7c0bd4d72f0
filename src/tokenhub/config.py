"""Settings: defaults < YAML config file < ``TOKENHUB_*`` environment < CLI flags.

``load_settings`` reads each source separately so it can say where every effective value
came from (``tokenhub config show``) and name the key and source of any bad value.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tokenhub.errors import ConfigError
from tokenhub.paths import Paths, resolve_paths
from tokenhub.schemas import ModelConfig, ProviderConfig, mask_password

ENV_PREFIX = "TOKENHUB_"
CONFIG_ENV = "TOKENHUB_CONFIG"
# Environment variables with the prefix that are not settings: read by other parts.
NON_SETTING_ENV = frozenset(
    {
        "TOKENHUB_HOME",
        "TOKENHUB_CONFIG",
        "TOKENHUB_RAISE_ERRORS",
        "TOKENHUB_URL",
        "TOKENHUB_ADMIN_TOKEN",
        "TOKENHUB_VAULT_PASSWORD_FILE",
    }
)
# Settings that only take effect when the daemon restarts (SIGHUP reports them).
RESTART_REQUIRED = frozenset({"host", "port", "socket", "db_url", "demo"})
SECRET_WORDS = ("password", "secret", "token", "api_key")
MIB = 1024 * 1024


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WriterSettings(_Section):
    """The background writer that batches request-path rows into the database."""

    flush_interval_s: float = Field(0.5, gt=0, le=60)
    batch_size: int = Field(500, ge=1, le=100_000)
    max_queue: int = Field(100_000, ge=1)


class HealthSettings(_Section):
    """Outlier ejection, cooldowns and adaptive timeouts for providers and models."""

    model_cooldown_s: float = Field(1.0, gt=0, le=600)
    model_cooldown_max_s: float = Field(60.0, gt=0, le=3600)
    eject_consecutive: int = Field(5, ge=1, le=1000)
    eject_error_rate: float = Field(0.5, gt=0, le=1)
    eject_min_requests: float = Field(10.0, ge=1, le=100_000)
    error_halflife_s: float = Field(30.0, gt=0, le=3600)
    provider_cooldown_s: float = Field(5.0, gt=0, le=600)
    provider_cooldown_max_s: float = Field(300.0, gt=0, le=3600)
    rate_limit_default_s: float = Field(5.0, gt=0, le=3600)
    auth_cooldown_s: float = Field(600.0, gt=0, le=86400)
    quota_cooldown_s: float = Field(3600.0, gt=0, le=7 * 86400)
    model_unavailable_cooldown_s: float = Field(600.0, gt=0, le=86400)
    probe_interval_s: float = Field(15.0, gt=0, le=3600)
    latency_alpha: float = Field(0.3, gt=0, le=1)
    adaptive_timeout_factor: float = Field(3.0, ge=1, le=100)
    adaptive_timeout_floor_s: float = Field(1.0, gt=0, le=600)


class UpstreamSettings(_Section):
    """Tokenhub's connections to the providers (docs/PROVIDERS.md, "Connections")."""

    # Connections in use at once per provider (all its endpoints), streams included; a
    # provider's own ``connection_limit`` overrides it. Sized for long streams: each holds one.
    connection_limit: int = Field(1000, ge=1, le=100_000)
    # Further connections only non-streaming calls may use, so streams never starve them.
    short_call_reserve: int = Field(100, ge=0, le=100_000)
    # How long an idle connection stays open for reuse.
    keepalive_s: float = Field(30.0, gt=0, le=3600)


class TsdbSettings(_Section):
    """The embedded time-series store: how long each resolution is kept (docs/METRICS.md)."""

    # 10-second buckets; kept at least an hour so every minute is rolled up before pruning.
    raw_retention_s: float = Field(86_400.0, ge=3600)
    minute_retention_s: float = Field(7 * 86_400.0, ge=3600)
    hour_retention_s: float = Field(90 * 86_400.0, ge=3600)
    # How often complete minutes and hours are rolled up and expired rows deleted.
    maintenance_interval_s: float = Field(60.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _coarser_lives_longer(self) -> TsdbSettings:
        if not self.raw_retention_s <= self.minute_retention_s <= self.hour_retention_s:
            raise ValueError(
                "retentions must not shrink with resolution:"
                " raw_retention_s <= minute_retention_s <= hour_retention_s"
            )
        return self


class VaultSettings(_Section):
    """The credential vault (docs/SECURITY.md)."""

    # Lock (drop the key from memory) after this long without using it; 0 never.
    idle_timeout_s: float = Field(1800.0, ge=0, le=7 * 86_400)
    # Argon2id cost for new vaults and password rotations (RFC 9106 option 2 by default).
    kdf_memory_kib: int = Field(65_536, ge=8_192, le=4_194_304)
    kdf_iterations: int = Field(3, ge=1, le=100)
    kdf_parallelism: int = Field(4, ge=1, le=64)


class TracingSettings(_Section):
    """OpenTelemetry export (W3C traceparent is always propagated)."""

    # OTLP/HTTP traces endpoint, e.g. http://collector:4318/v1/traces; null = no export.
    otlp_endpoint: str | None = None
    service_name: str = Field("tokenhub", min_length=1)
    sample_ratio: float = Field(1.0, ge=0, le=1)


class RequestLogSettings(_Section):
    """The per-request log (docs/API.md, GET /admin/v1/requests)."""

    retention_days: float = Field(30.0, gt=0, le=3650)
    # Store redacted request and response bodies too (off: only metadata is kept).
    log_bodies: bool = False


class ResponsesSettings(_Section):
    """Stored Responses API responses (docs/API.md, POST /v1/responses)."""

    # Stored responses older than this are deleted (checked hourly).
    retention_days: float = Field(30.0, gt=0, le=3650)


class AuthSettings(_Section):
    """Who may call the consumer API."""

    # None: required whenever the TCP listener is not loopback-only, off otherwise.
    require_api_key: bool | None = None


class Settings(BaseSettings):
    """Every setting tokenhub reads. Field names are the YAML keys; env is TOKENHUB_<KEY>."""

    model_config = SettingsConfigDict(extra="forbid", frozen=True, env_prefix=ENV_PREFIX)

    host: str = Field("127.0.0.1", min_length=1)
    port: int = Field(8080, ge=0, le=65535)
    socket: Path | None = None
    db_url: str | None = None
    max_body_bytes: int = Field(10 * MIB, ge=1024)
    shutdown_grace_s: float = Field(10.0, ge=0, le=600)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = "json"
    access_log: bool = True
    demo: bool = False
    # Refuse (400) a request field the routed model's format cannot carry, instead of
    # dropping it with an X-Tokenhub-Warnings header; a request's tokenhub.strict wins.
    strict_fields: bool = False
    writer: WriterSettings = WriterSettings()
    health: HealthSettings = HealthSettings()
    auth: AuthSettings = AuthSettings()
    vault: VaultSettings = VaultSettings()
    tracing: TracingSettings = TracingSettings()
    request_log: RequestLogSettings = RequestLogSettings()
    responses: ResponsesSettings = ResponsesSettings()
    tsdb: TsdbSettings = TsdbSettings()
    upstream: UpstreamSettings = UpstreamSettings()
    providers: list[ProviderConfig] = []
    models: list[ModelConfig] = []

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],  # noqa: ARG003 - pydantic-settings' signature; only the YAML and init sources are used
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - pydantic-settings' signature; only the YAML and init sources are used
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - pydantic-settings' signature; only the YAML and init sources are used
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - pydantic-settings' signature; only the YAML and init sources are used
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only explicit values: ``load_settings`` reads and merges the sources itself."""
        return (init_settings,)


@dataclass(slots=True)
class LoadedSettings:
    """Effective settings, where each came from, and the folders they resolve to."""

    settings: Settings
    sources: dict[str, str]
    paths: Paths
    config_file: Path | None
    cli_overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def socket_path(self) -> Path:
        """The Unix socket path: the setting, else the runtime folder's default."""
        return self.settings.socket or self.paths.default_socket

    @property
    def require_api_key(self) -> bool:
        """Whether /v1 needs a key: the setting, else on unless the listener is loopback."""
        explicit = self.settings.auth.require_api_key
        return not is_loopback(self.settings.host) if explicit is None else explicit

    @property
    def db_url(self) -> str:
        """The database URL: the setting, else SQLite in the data folder."""
        return self.settings.db_url or f"sqlite+aiosqlite:///{self.paths.default_db_path}"


def is_loopback(host: str) -> bool:
    """True for a loopback address or name (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(
    cli: Mapping[str, Any] | None = None,
    *,
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> LoadedSettings:
    """Merge the sources by precedence and validate; raise ConfigError naming key and source."""
    env = os.environ if environ is None else environ
    paths = resolve_paths(env)
    chosen = find_config_file(config_file, env, cwd or Path.cwd(), paths)
    layers: list[tuple[str, dict[str, Any]]] = []
    if chosen is not None:
        layers.append((f"file:{chosen}", read_yaml(chosen)))
    layers.extend(read_env(env))
    overrides = {k: v for k, v in (cli or {}).items() if v is not None}
    layers.extend((f"cli:--{k.replace('_', '-')}", {k: v}) for k, v in overrides.items())
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, data in layers:
        _merge(merged, data, source, sources, prefix="")
    settings = _validate(merged, sources)
    for name in Settings.model_fields:
        sources.setdefault(name, "default")
    return LoadedSettings(settings, sources, paths, chosen, dict(overrides))


def find_config_file(
    explicit: Path | None, env: Mapping[str, str], cwd: Path, paths: Paths
) -> Path | None:
    """Pick the config file: --config, TOKENHUB_CONFIG, ./config/config.yaml, user config dir."""
    if explicit is not None:
        return _must_exist(explicit, "--config")
    if env.get(CONFIG_ENV):
        return _must_exist(Path(env[CONFIG_ENV]), CONFIG_ENV)
    for candidate in (cwd / "config" / "config.yaml", paths.default_config_file):
        if candidate.is_file():
            return candidate
    return None


def _must_exist(path: Path, origin: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"config file {path} (from {origin}) does not exist")
    return path


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML config file into a mapping; an empty file is an empty mapping."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path}: not valid YAML{where}") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot be read ({exc.strerror})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of settings")
    return data


def read_env(environ: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Turn ``TOKENHUB_*`` variables into (source, nested mapping) layers."""
    layers = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in NON_SETTING_ENV:
            continue
        if environ[name] == "":  # an empty value means "not set", as in most .env files
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        if path[0] not in Settings.model_fields:
            raise ConfigError(f"unknown setting '{path[0]}' from environment variable {name}")
        value: Any = environ[name]
        if _wants_json(path) and value.strip()[:1] in ("[", "{"):
            try:
                value = orjson.loads(value)
            except orjson.JSONDecodeError:
                raise ConfigError(
                    f"invalid setting '{'.'.join(path)}' from environment variable {name}:"
                    " value is not valid JSON"
                ) from None
        nested: dict[str, Any] = {path[-1]: value}
        for part in reversed(path[:-1]):
            nested = {part: nested}
        layers.append((f"env:{name}", nested))
    return layers


def _wants_json(path: list[str]) -> bool:
    info = Settings.model_fields[path[0]]
    return len(path) == 1 and str(info.annotation).startswith("list")


def _merge(
    into: dict[str, Any], data: dict[str, Any], source: str, sources: dict[str, str], prefix: str
) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(into.get(key), dict) and dotted != "providers":
            _merge(into[key], value, source, sources, prefix=f"{dotted}.")
            continue
        into[key] = value
        for old in [k for k in sources if k.startswith(f"{dotted}.")]:
            del sources[old]
        if isinstance(value, dict):
            _record_leaves(value, source, sources, f"{dotted}.")
        else:
            sources[dotted] = source


def _record_leaves(data: dict[str, Any], source: str, sources: dict[str, str], prefix: str) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            _record_leaves(value, source, sources, f"{prefix}{key}.")
        else:
            sources[f"{prefix}{key}"] = source


def _validate(merged: dict[str, Any], sources: dict[str, str]) -> Settings:
    try:
        return Settings(**merged)
    except ValidationError as exc:
        raise _config_error(exc.errors()[0], sources) from None


def _config_error(err: Any, sources: dict[str, str]) -> ConfigError:
    loc = [str(p) for p in err["loc"]]
    key = ".".join(loc)
    source = _source_of(loc, sources)
    if err["type"] == "extra_forbidden":
        return ConfigError(f"unknown setting '{key}' {source}")
    return ConfigError(f"invalid setting '{key}' {source}: {_lower_first(err['msg'])}")


def _source_of(loc: list[str], sources: dict[str, str]) -> str:
    for depth in range(len(loc), 0, -1):
        found = sources.get(".".join(loc[:depth]))
        if found:
            return describe_source(found)
    return "from the defaults"


def describe_source(source: str) -> str:
    """Render a source tag as words: 'in config file X', 'from environment variable Y'."""
    kind, _, rest = source.partition(":")
    return {
        "file": f"in config file {rest}",
        "env": f"from environment variable {rest}",
        "cli": f"from command-line option {rest}",
    }.get(kind, "from the defaults")


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def mask_url(url: str) -> str:
    """Hide the password in a database URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, colon, _password = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def effective_view(loaded: LoadedSettings) -> list[tuple[str, Any, str]]:
    """Every effective setting as (dotted key, display value, source tag), secrets masked."""
    data = loaded.settings.model_dump(mode="json")
    data["socket"] = str(loaded.socket_path)
    data["db_url"] = loaded.db_url
    rows: list[tuple[str, Any, str]] = []
    for key, value in data.items():
        items = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, leaf in items:
            dotted = key if sub is None else f"{key}.{sub}"
            rows.append((dotted, _mask(dotted, leaf), _raw_source(dotted, loaded.sources)))
    return rows


def _raw_source(dotted: str, sources: dict[str, str]) -> str:
    parts = dotted.split(".")
    for depth in range(len(parts), 0, -1):
        found = sources.get(".".join(parts[:depth]))
        if found:
            return found
    return "default"


def _mask(key: str, value: Any) -> Any:
    if key == "db_url" and isinstance(value, str):
        return mask_url(value)
    if key == "providers" and isinstance(value, list):
        return [{**p, "proxy": mask_password(p["proxy"])} if p.get("proxy") else p for p in value]
    if any(word in key for word in SECRET_WORDS) and value:
        return "***"
    return value
