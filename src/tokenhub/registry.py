"""The in-memory registry of providers and models, with the alias index routing needs.

Entries come from two places: the config file (``source="config"``, read-only through
the API; edit the file and send SIGHUP) and the store (``source="api"``). The registry
itself does no I/O; ``store/registry_store.py`` persists the API entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tokenhub.errors import ConflictError, InvalidRequestError, NotFoundError
from tokenhub.schemas import ModelConfig, ProviderConfig

Source = Literal["config", "api"]


@dataclass(slots=True)
class ProviderEntry:
    """A provider and where it was declared."""

    config: ProviderConfig
    source: Source


@dataclass(slots=True)
class ModelEntry:
    """A model and where it was declared."""

    config: ModelConfig
    source: Source


@dataclass
class Registry:
    """Providers and models by id; ``version`` grows on every change."""

    providers: dict[str, ProviderEntry] = field(default_factory=dict)
    models: dict[str, ModelEntry] = field(default_factory=dict)
    version: int = 0
    _aliases: dict[str, list[str]] = field(default_factory=dict)

    def load(
        self,
        config_providers: list[ProviderConfig],
        config_models: list[ModelConfig],
        stored_providers: list[ProviderConfig],
        stored_models: list[ModelConfig],
    ) -> list[str]:
        """Replace everything; config entries win over stored ones. Return warnings."""
        warnings: list[str] = []
        providers = {p.id: ProviderEntry(p, "api") for p in stored_providers}
        models = {m.id: ModelEntry(m, "api") for m in stored_models}
        for p in config_providers:
            if p.id in providers:
                warnings.append(
                    f"provider '{p.id}' is in the config file and the store; using the file"
                )
            providers[p.id] = ProviderEntry(p, "config")
        for m in config_models:
            if m.id in models:
                warnings.append(
                    f"model '{m.id}' is in the config file and the store; using the file"
                )
            models[m.id] = ModelEntry(m, "config")
        for entry in list(models.values()):
            if entry.config.provider not in providers:
                warnings.append(
                    f"model '{entry.config.id}' names unknown provider '{entry.config.provider}'"
                )
                del models[entry.config.id]
        self.providers, self.models = providers, models
        self._changed()
        return warnings

    def _changed(self) -> None:
        self.version += 1
        aliases: dict[str, list[str]] = {}
        for entry in self.models.values():
            for alias in entry.config.aliases:
                aliases.setdefault(alias, []).append(entry.config.id)
        self._aliases = aliases

    def resolve(self, name: str) -> list[ModelConfig]:
        """The models a client's ``model`` names: the model id itself, or an alias group."""
        entry = self.models.get(name)
        if entry is not None:
            return [entry.config]
        return [self.models[m].config for m in self._aliases.get(name, [])]

    def aliases(self) -> list[str]:
        """Every alias, sorted."""
        return sorted(self._aliases)

    def provider(self, provider_id: str) -> ProviderEntry:
        """The provider entry, or NotFoundError."""
        entry = self.providers.get(provider_id)
        if entry is None:
            raise NotFoundError(f"no provider '{provider_id}'")
        return entry

    def model(self, model_id: str) -> ModelEntry:
        """The model entry, or NotFoundError."""
        entry = self.models.get(model_id)
        if entry is None:
            raise NotFoundError(f"no model '{model_id}'")
        return entry

    def check_new_provider(self, config: ProviderConfig) -> None:
        """Refuse a duplicate provider id."""
        if config.id in self.providers:
            raise ConflictError(f"provider '{config.id}' already exists")

    def check_model(self, config: ModelConfig, *, replacing: str | None = None) -> None:
        """Refuse a model whose provider is unknown, whose id is taken, or whose alias clashes."""
        if config.provider not in self.providers:
            raise InvalidRequestError(f"no provider '{config.provider}'", param="provider")
        if replacing is None and config.id in self.models:
            raise ConflictError(f"model '{config.id}' already exists")
        for alias in config.aliases:
            if alias in self.models and alias != config.id:
                raise InvalidRequestError(f"alias '{alias}' is already a model id", param="aliases")

    def check_editable(self, entry: ProviderEntry | ModelEntry, what: str) -> None:
        """Config-file entries are changed in the file, not through the API."""
        if entry.source == "config":
            raise ConflictError(f"{what} is declared in the config file; edit the file and reload")

    def put_provider(self, config: ProviderConfig) -> None:
        """Add or replace an API provider."""
        self.providers[config.id] = ProviderEntry(config, "api")
        self._changed()

    def remove_provider(self, provider_id: str) -> None:
        """Remove a provider that no model uses."""
        users = [m.config.id for m in self.models.values() if m.config.provider == provider_id]
        if users:
            raise ConflictError(
                f"provider '{provider_id}' still has models: {', '.join(sorted(users))}"
            )
        del self.providers[provider_id]
        self._changed()

    def put_model(self, config: ModelConfig) -> None:
        """Add or replace an API model."""
        self.models[config.id] = ModelEntry(config, "api")
        self._changed()

    def remove_model(self, model_id: str) -> None:
        """Remove a model."""
        del self.models[model_id]
        self._changed()
