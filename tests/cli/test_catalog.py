"""Known prices and context windows, from genai-prices' bundled data, for `models add`."""

from __future__ import annotations

import json
import socket

import pytest

from tokenhub.cli import catalog
from tokenhub.testing import run_cli as cli
from tokenhub.testing import start_daemon

OPENAI = {"type": "openai", "base_url": "https://api.openai.com/v1"}
ANTHROPIC = {"type": "anthropic", "base_url": "https://api.anthropic.com"}


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("the catalogue tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_known_models_by_kind(offline):
    """Flat prices as they are; tiered prices by their base rate; context windows."""
    mini = catalog.lookup("gpt-4o-mini", OPENAI)
    assert mini is not None
    assert mini.values() == {
        "input_usd_per_mtok": 0.15,
        "output_usd_per_mtok": 0.6,
        "cache_read_usd_per_mtok": 0.075,
        "cache_write_usd_per_mtok": None,
        "max_context_tokens": 128000,
    }
    sonnet = catalog.lookup("claude-sonnet-4-5", ANTHROPIC)
    assert sonnet is not None
    assert (sonnet.input_usd_per_mtok, sonnet.output_usd_per_mtok) == (3.0, 15.0)
    assert (sonnet.cache_read_usd_per_mtok, sonnet.cache_write_usd_per_mtok) == (0.3, 3.75)
    assert "genai-prices" in sonnet.source


def test_vendor_known_by_base_url(offline):
    """An OpenAI-compatible vendor is priced as itself, not as OpenAI."""
    groq = catalog.lookup(
        "llama-3.3-70b-versatile", {**OPENAI, "base_url": "https://api.groq.com/openai/v1"}
    )
    assert groq is not None
    assert groq.source.endswith("groq/llama-3.3-70b-versatile")


def test_unknown_and_self_hosted_are_not_guessed(offline):
    """No entry for an unknown model, and none for vLLM (its cost is the operator's)."""
    assert catalog.lookup("my-private-model", OPENAI) is None
    assert catalog.lookup("gpt-4o-mini", {"type": "vllm", "base_url": "http://gpu:8000/v1"}) is None


def test_fill_keeps_what_the_user_gave(offline):
    """Only missing fields are filled; the note names them and the source."""
    model = {"id": "mini", "upstream_model": "gpt-4o-mini", "input_usd_per_mtok": 0.1}
    note = catalog.fill(model, OPENAI)
    assert model["input_usd_per_mtok"] == 0.1
    assert (model["output_usd_per_mtok"], model["max_context_tokens"]) == (0.6, 128000)
    assert note is not None
    assert note.startswith(
        "output_usd_per_mtok, cache_read_usd_per_mtok, max_context_tokens from genai-prices"
    )
    given = dict.fromkeys(catalog.FIELDS, 1)
    assert catalog.fill(dict(given), OPENAI) is None


def test_models_add_fills_prices_through_the_daemon(tokenhub_home):
    """`models add` on a live daemon stores the catalogue's prices unless given."""
    with start_daemon():
        provider = [
            "providers",
            "add",
            "oa",
            "--type",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
        ]
        assert cli(*provider).returncode == 0
        added = cli("models", "add", "gpt-4o-mini", "--provider", "oa")
        assert added.returncode == 0, added.stderr
        assert "from genai-prices" in added.stdout
        explicit = cli(
            "models", "add", "cheap", "--provider", "oa", "--upstream-model", "gpt-4o-mini",
            "--input-usd-per-mtok", "0.01", "--json",
        )  # fmt: skip
        assert json.loads(explicit.stdout)["input_usd_per_mtok"] == 0.01
        listed = {m["id"]: m for m in json.loads(cli("models", "list", "--json").stdout)}
    assert listed["gpt-4o-mini"]["input_usd_per_mtok"] == 0.15
    assert listed["gpt-4o-mini"]["max_context_tokens"] == 128000
    assert listed["cheap"]["output_usd_per_mtok"] == 0.6
