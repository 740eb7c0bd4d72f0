"""What an answer cost: provider-reported usage priced at the model's rates."""

from __future__ import annotations

from tokenhub.routing.candidates import PER_MILLION
from tokenhub.schemas import ModelConfig
from tokenhub.types import Usage


def cost_of(model: ModelConfig, usage: Usage) -> float:
    """What ``usage`` costs on ``model`` in USD; cached input at the model's cache prices."""
    price_in = model.input_usd_per_mtok
    read, write = usage.cache_read_tokens, usage.cache_write_tokens
    fresh = max(0, usage.input_tokens - read - write)
    read_price = (
        price_in if model.cache_read_usd_per_mtok is None else model.cache_read_usd_per_mtok
    )
    write_price = (
        price_in if model.cache_write_usd_per_mtok is None else model.cache_write_usd_per_mtok
    )
    return (
        fresh * price_in
        + read * read_price
        + write * write_price
        + usage.output_tokens * model.output_usd_per_mtok
    ) / PER_MILLION


def estimate_of(model: ModelConfig, input_tokens: int, output_tokens: int) -> float:
    """What a request is estimated to cost on ``model`` before it is sent, in USD.

    The request's own token estimates at the model's prices: not the routing cache's
    (which rounds input up to 64 tokens so similar requests share a scoring).
    """
    return (
        input_tokens * model.input_usd_per_mtok + output_tokens * model.output_usd_per_mtok
    ) / PER_MILLION
