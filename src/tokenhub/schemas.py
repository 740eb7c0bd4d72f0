"""The JSON shapes of registry objects, shared by the config file, the admin API and the CLI.

One definition keeps the three spellings identical: a provider or model written in
``config.yaml`` is exactly what ``POST /admin/v1/providers`` accepts and ``--json`` prints.
"""

from __future__ import annotations

import re
from typing import Literal, Self

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
