"""Known prices and context windows for ``tokenhub models add`` and ``discover --add``.

Looked up in genai-prices' bundled data (never downloaded: tokenhub makes no outbound
call for it), by the upstream model name and the provider's base URL, else its kind. Only
the fields the user left out are filled, so an explicit price always wins. Self-hosted
``vllm`` providers are not looked up: what their tokens cost is the operator's to say.

CLI-side on purpose: the data is a large module, and a short-lived command can afford to
load it where the long-lived daemon should not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

PRICED_KINDS = {"openai": "openai", "anthropic": "anthropic"}
"""Provider kinds with public prices, and the genai-prices provider id of each."""

FIELDS = (
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cache_read_usd_per_mtok",
    "cache_write_usd_per_mtok",
    "max_context_tokens",
)


@dataclass(frozen=True, slots=True)
class Known:
    """What the catalogue knows about one model."""

    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cache_read_usd_per_mtok: float | None
    cache_write_usd_per_mtok: float | None
    max_context_tokens: int | None
    source: str

    def values(self) -> dict[str, float | int | None]:
        """The known values by model field name."""
        return {
            "input_usd_per_mtok": self.input_usd_per_mtok,
            "output_usd_per_mtok": self.output_usd_per_mtok,
            "cache_read_usd_per_mtok": self.cache_read_usd_per_mtok,
            "cache_write_usd_per_mtok": self.cache_write_usd_per_mtok,
            "max_context_tokens": self.max_context_tokens,
        }


def lookup(upstream_model: str, provider: dict[str, Any]) -> Known | None:
    """The catalogue entry for a model served by ``provider`` (its admin-API JSON), or None."""
    kind = PRICED_KINDS.get(provider.get("type", ""))
    if kind is None:
        return None
    from genai_prices import __version__, data_snapshot

    snapshot = data_snapshot.get_snapshot()
    api_url = provider.get("base_url") or next(iter(provider.get("base_urls") or []), None)
    found = None
    if api_url:  # an OpenAI-compatible vendor (Groq, Together, ...) is known by its URL
        try:
            found = snapshot.find_provider_model(upstream_model, None, None, api_url)
        except LookupError:
            found = None
    if found is None:
        try:
            found = snapshot.find_provider_model(upstream_model, None, kind, None)
        except LookupError:
            return None
    vendor, model = found
    prices = model.get_prices(datetime.now(UTC))
    return Known(
        _per_mtok(prices.input_mtok),
        _per_mtok(prices.output_mtok),
        _per_mtok(prices.cache_read_mtok),
        _per_mtok(prices.cache_write_mtok),
        model.context_window,
        f"genai-prices {__version__} (bundled data): {vendor.id}/{model.id}",
    )


def fill(model: dict[str, Any], provider: dict[str, Any]) -> str | None:
    """Fill the model's missing price and context fields; return a note saying from where."""
    missing = [f for f in FIELDS if model.get(f) is None]
    if not missing:
        return None
    known = lookup(model.get("upstream_model") or model["id"], provider)
    if known is None:
        return None
    filled = {f: v for f, v in known.values().items() if f in missing and v is not None}
    model.update(filled)
    return f"{', '.join(filled)} from {known.source}" if filled else None


def _per_mtok(price: Any) -> float | None:
    """USD per million tokens from a flat price or the base rate of tiered prices."""
    if price is None:
        return None
    base = getattr(price, "base", price)  # TieredPrices: the rate below the first tier
    return float(base) if isinstance(base, Decimal | int | float) else None
