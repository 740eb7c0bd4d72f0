"""What a request costs: input, output, and prompt-cache reads and writes at their prices."""

from __future__ import annotations

import pytest

from tokenhub.dispatch.cost import cost_of
from tokenhub.providers.wire.anthropic_stream import parse_usage as anthropic_usage
from tokenhub.providers.wire.openai_stream import parse_usage as openai_usage
from tokenhub.schemas import ModelConfig
from tokenhub.types import Usage

SONNET = ModelConfig(
    id="sonnet",
    provider="an",
    input_usd_per_mtok=3.0,
    output_usd_per_mtok=15.0,
    cache_read_usd_per_mtok=0.3,
    cache_write_usd_per_mtok=3.75,
)


def test_cached_input_is_billed_at_cache_prices():
    """Of 1,000 input tokens, 600 read from and 300 written to the cache."""
    usage = Usage(1000, 100, cache_read_tokens=600, cache_write_tokens=300)
    expected = (100 * 3.0 + 600 * 0.3 + 300 * 3.75 + 100 * 15.0) / 1e6
    assert cost_of(SONNET, usage) == pytest.approx(expected)


def test_without_cache_prices_cached_tokens_cost_the_input_price():
    """A model with no cache prices bills every input token alike."""
    plain = SONNET.model_copy(
        update={"cache_read_usd_per_mtok": None, "cache_write_usd_per_mtok": None}
    )
    usage = Usage(1000, 100, cache_read_tokens=600, cache_write_tokens=300)
    assert cost_of(plain, usage) == pytest.approx((1000 * 3.0 + 100 * 15.0) / 1e6)


def test_usage_reports_cache_tokens_from_both_wire_formats():
    """Anthropic counts cache tokens beside input_tokens; OpenAI inside prompt_tokens."""
    anthropic = anthropic_usage(
        {"input_tokens": 10, "cache_read_input_tokens": 600, "cache_creation_input_tokens": 300,
         "output_tokens": 5}
    )  # fmt: skip
    assert anthropic == Usage(910, 5, cache_read_tokens=600, cache_write_tokens=300)
    details = {"cached_tokens": 1024}
    openai = openai_usage(
        {"prompt_tokens": 1200, "completion_tokens": 7, "prompt_tokens_details": details}
    )
    assert openai == Usage(1200, 7, cache_read_tokens=1024)
    assert openai_usage({"prompt_tokens": 3, "completion_tokens": 1}) == Usage(3, 1)
