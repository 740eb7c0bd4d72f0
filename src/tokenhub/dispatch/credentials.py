"""Where a provider's API key comes from: the daemon's environment, the vault, or nowhere."""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping
from typing import Protocol

from tokenhub.schemas import ProviderConfig

ENV_PREFIX = "env:"


class SecretStore(Protocol):
    """What the resolver needs from the vault (the vault issue provides it)."""

    @property
    def locked(self) -> bool:
        """True while the vault's key material is not in memory."""
        ...

    def provider_key(self, provider_id: str) -> str | None:
        """The escrowed key of a provider, or None when there is none."""
        ...

    @property
    def secrets_version(self) -> int:
        """Grows whenever a secret is stored or deleted."""
        ...


class Credentials:
    """Resolves credential references; never logs or returns them anywhere but the adapter."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, vault: SecretStore | None = None
    ) -> None:
        self.environ = os.environ if environ is None else environ
        self.vault = vault

    def problem(self, provider: ProviderConfig) -> str | None:
        """Why the provider's credential is unusable now, or None when it is usable."""
        ref = provider.credential
        if ref == "none":
            return None
        if ref.startswith(ENV_PREFIX):
            var = ref[len(ENV_PREFIX) :]
            return None if self.environ.get(var) else f"credential_missing (env {var} is not set)"
        if self.vault is None:
            return "credential_missing (no vault configured)"
        if self.vault.locked:
            return "vault_locked"
        if self.vault.provider_key(provider.id) is None:
            return "credential_missing (no key in the vault)"
        return None

    def version(self) -> Hashable:
        """Changes whenever a credential's availability can have changed (the vault)."""
        if self.vault is None:
            return None
        return (self.vault.locked, self.vault.secrets_version)

    def key(self, provider: ProviderConfig) -> str | None:
        """The API key to send, or None (credential ``none``, or unavailable)."""
        ref = provider.credential
        if ref.startswith(ENV_PREFIX):
            return self.environ.get(ref[len(ENV_PREFIX) :]) or None
        if ref == "escrow" and self.vault is not None and not self.vault.locked:
            return self.vault.provider_key(provider.id)
        return None
