"""`tokenhub models add/update`: every option reaches the admin API under its field name."""

from __future__ import annotations

import json

from tokenhub.testing import run_cli, start_daemon

PROVIDER = ["providers", "add", "oa", "--type", "openai", "--base-url", "http://127.0.0.1:9/v1"]
EVERY_OPTION = {
    "provider": "oa",
    "upstream_model": "gpt-4o-mini",
    "weight": 7,
    "max_context_tokens": 32000,
    "max_output_tokens": 2000,
    "input_usd_per_mtok": 0.5,
    "output_usd_per_mtok": 1.5,
    "cache_read_usd_per_mtok": 0.05,
    "cache_write_usd_per_mtok": 0.6,
    "expected_latency_ms": 250.0,
    "aliases": ["fast", "small"],
    "capabilities": ["tools", "json"],
    "enabled": False,
}


def models(*args: str) -> dict:
    """Run `tokenhub models ARGS --json`; the model it printed."""
    done = run_cli("models", *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_add_and_update_send_each_option_as_its_field(tokenhub_home):
    """Add sets every field from its option; update changes only the options given."""
    with start_daemon():
        assert run_cli(*PROVIDER).returncode == 0
        added = models(
            "add", "m", "--provider", "oa", "--upstream-model", "gpt-4o-mini", "--weight", "7",
            "--max-context-tokens", "32000", "--max-output-tokens", "2000",
            "--input-usd-per-mtok", "0.5", "--output-usd-per-mtok", "1.5",
            "--cache-read-usd-per-mtok", "0.05", "--cache-write-usd-per-mtok", "0.6",
            "--expected-latency-ms", "250", "--alias", "fast", "--alias", "small",
            "--capability", "tools", "--capability", "json", "--disabled",
        )  # fmt: skip
        assert added == {"id": "m", **EVERY_OPTION, "source": "api"}
        updated = models("update", "m", "--weight", "3", "--enabled", "--alias", "quick")
        assert updated == {**added, "weight": 3, "enabled": True, "aliases": ["quick"]}
        nothing = run_cli("models", "update", "m")
    assert nothing.returncode == 1
    assert nothing.stderr.strip() == "error: nothing to update: give at least one option"
