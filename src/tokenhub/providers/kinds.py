"""Provider kinds: the code behind a provider ``type``, registered like a plugin would be.

Built-in kinds register through the same ``register(kinds)`` function an outside
package exposes under the ``tokenhub.providers`` entry-point group. The registry is an
object handed to ``create_app``, never a global.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from tokenhub.clock import Clock
from tokenhub.errors import ConfigError
from tokenhub.providers.base import AdapterFactory, ProviderAdapter
from tokenhub.providers.transport import UpstreamClient
from tokenhub.schemas import ProviderConfig

ENTRY_POINT_GROUP = "tokenhub.providers"
BUILTIN_MODULES = (
    "tokenhub.providers.openai",
    "tokenhub.providers.anthropic",
    "tokenhub.providers.vllm",
)


class ProviderKinds:
    """Maps a provider ``type`` to the factory that builds its adapter."""

    def __init__(self) -> None:
        self._factories: dict[str, AdapterFactory] = {}

    def add(self, type_name: str, factory: AdapterFactory) -> None:
        """Register a kind; a second registration of the same name is an error."""
        if type_name in self._factories:
            raise ConfigError(f"provider type '{type_name}' is registered twice")
        self._factories[type_name] = factory

    @property
    def types(self) -> list[str]:
        """Every registered type name, sorted."""
        return sorted(self._factories)

    def check(self, type_name: str) -> None:
        """Raise ConfigError when ``type_name`` is not a registered kind."""
        if type_name not in self._factories:
            known = ", ".join(self.types)
            raise ConfigError(f"unknown provider type '{type_name}' (known: {known})")

    def create(
        self, config: ProviderConfig, client: UpstreamClient, clock: Clock
    ) -> ProviderAdapter:
        """Build the adapter for one provider instance."""
        self.check(config.type)
        return self._factories[config.type](config, client, clock)


def default_kinds(*, plugins: bool = True) -> ProviderKinds:
    """The built-in kinds, plus those of installed packages when ``plugins`` is on."""
    kinds = ProviderKinds()
    for name in BUILTIN_MODULES:
        importlib.import_module(name).register(kinds)
    if plugins:
        for entry in entry_points(group=ENTRY_POINT_GROUP):
            entry.load()(kinds)
    return kinds
