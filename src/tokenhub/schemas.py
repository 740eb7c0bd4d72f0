"""The JSON shapes of registry objects, shared by the config file, the admin API and the CLI.

One definition keeps the three spellings identical: a provider or model written in
``config.yaml`` is exactly what ``POST /admin/v1/providers`` accepts and ``--json`` prints.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Capability = Literal["tools", "vision", "json"]
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$"
CREDENTIAL_PATTERN = re.compile(r"^(none|escrow|env:[A-Za-z_][A-Za-z0-9_]*)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(_Strict):
    """A provider instance: which wire format, where, and how it authenticates."""

    id: str = Field(pattern=ID_PATTERN)
    # Validated against the registered provider kinds when the registry loads it;
    # the built-ins (providers/kinds.py) are openai, anthropic and vllm; plugins add their own.
    type: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    base_url: str | None = None
    base_urls: list[str] = []
    credential: str = "none"
    enabled: bool = True
    timeout_s: float = Field(60.0, gt=0, le=3600)
    headers: dict[str, str] = {}
    proxy: str | None = None
    """``http://[user:password@]host:port``; ``""``/``none``: no proxy; None: the environment's."""
    ca_file: str | None = None
    """A PEM file of CAs trusted for this provider's https endpoints, besides the system's."""
    connection_limit: int | None = Field(None, ge=1, le=100_000)
    """Connections streams may hold at once; None: the ``upstream.connection_limit`` setting."""

    @field_validator("credential")
    @classmethod
    def _credential_form(cls, value: str) -> str:
        if not CREDENTIAL_PATTERN.match(value):
            raise ValueError("must be 'none', 'escrow' or 'env:VAR_NAME'")
        return value

    @field_validator("base_url")
    @classmethod
    def _url_form(cls, value: str | None) -> str | None:
        if value is not None:
            _check_url(value)
        return value

    @field_validator("base_urls")
    @classmethod
    def _urls_form(cls, value: list[str]) -> list[str]:
        for url in value:
            _check_url(url)
        return value

    @field_validator("proxy")
    @classmethod
    def _proxy_form(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() not in ("", "none"):
            _check_proxy(value)
        return value

    @model_validator(mode="after")
    def _one_url_form(self) -> Self:
        if (self.base_url is None) == (not self.base_urls):
            raise ValueError("give exactly one of 'base_url' or 'base_urls'")
        return self

    @property
    def urls(self) -> list[str]:
        """Every endpoint base URL, whichever field declared them."""
        return [self.base_url] if self.base_url else list(self.base_urls)


def _check_url(value: str) -> None:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")


def _check_proxy(value: str) -> None:
    """Messages never repeat the value: a proxy URL may hold a password."""
    if value.startswith("https://"):
        raise ValueError("an https:// proxy (TLS to the proxy) is not supported; use http://")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "http" or not parts.hostname:
        raise ValueError("must be 'none' or an http://[user:password@]host:port URL")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("a proxy URL has no path or query: http://host:port")


def mask_password(url: str) -> str:
    """A URL for display: the password in its user part (``user:password@``) as ``***``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if not sep or "@" not in authority:
        return url
    creds, _, host = authority.rpartition("@")
    user, colon, _password = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}{slash}{path}"


def public_provider(config: ProviderConfig) -> dict[str, Any]:
    """A provider's JSON for display: its proxy's password masked (headers are the caller's)."""
    data = config.model_dump(mode="json")
    if data.get("proxy"):
        data["proxy"] = mask_password(data["proxy"])
    return data


class ModelConfig(_Strict):
    """A model served by a provider, with what routing needs to know about it."""

    id: str = Field(pattern=ID_PATTERN)
    provider: str = Field(pattern=ID_PATTERN)
    upstream_model: str | None = None
    weight: int = Field(5, ge=1, le=10)
    max_context_tokens: int = Field(8192, ge=1)
    max_output_tokens: int = Field(4096, ge=1)
    input_usd_per_mtok: float = Field(0.0, ge=0)
    output_usd_per_mtok: float = Field(0.0, ge=0)
    # Prompt-cache prices; None bills those tokens at the input price.
    cache_read_usd_per_mtok: float | None = Field(None, ge=0)
    cache_write_usd_per_mtok: float | None = Field(None, ge=0)
    expected_latency_ms: float = Field(1000.0, ge=0)
    enabled: bool = True
    aliases: list[str] = []
    capabilities: list[Capability] = []

    @property
    def upstream(self) -> str:
        """The model name sent to the provider."""
        return self.upstream_model or self.id
