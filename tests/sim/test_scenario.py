from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from tokenhub.errors import ConfigError
from tokenhub.sim import (
    MatchSpec,
    ModelSpec,
    ProviderSpec,
    RateLimitSpec,
    ResponseSpec,
    Scenario,
    ScenarioError,
    ToolCallSpec,
    default_scenario,
    load_scenario,
    parse_scenario,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "config" / "sim.example.yaml"


def _minimal(**model: object) -> dict[str, object]:
    return {"providers": [{"name": "p", "type": "openai", "models": [{"id": "m", **model}]}]}


def test_example_file_loads():
    """The shipped example scenario loads with its four providers and their types."""
    scenario = load_scenario(EXAMPLE)
    assert [(p.name, p.type) for p in scenario.providers] == [
        ("openai", "openai"),
        ("anthropic", "anthropic"),
        ("vllm-a", "vllm"),
        ("vllm-b", "vllm"),
    ]
    assert scenario.seed == 7
    assert scenario.provider("openai").model("gpt-4o") is not None


def test_default_scenario_has_every_provider_type():
    """default_scenario() serves one provider of each wire format, unpaced."""
    scenario = default_scenario(seed=3)
    assert {p.type for p in scenario.providers} == {"openai", "anthropic", "vllm"}
    assert scenario.seed == 3
    assert all(m.ttft_ms == 0 for p in scenario.providers for m in p.models)


def test_unknown_key_is_named(tmp_path: Path):
    """A misspelt key fails with one line naming the file and the full key path."""
    path = tmp_path / "bad.yaml"
    path.write_text(
        "providers:\n  - name: p\n    type: openai\n    models:\n      - id: m\n        ttft: 5\n"
    )
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert str(caught.value) == f"{path}: unknown key 'providers[0].models[0].ttft'"


def test_bad_value_is_named():
    """A value out of range fails naming the key and the reason."""
    with pytest.raises(ScenarioError, match=r"'providers\[0\]\.models\[0\]\.context_window'"):
        parse_scenario(_minimal(context_window=0), "inline")


def test_uninjectable_status_is_rejected():
    """error_rate accepts only the statuses the simulator can render (429, 500, 503, 529)."""
    with pytest.raises(ScenarioError, match=r"error_rate.*status 418 cannot be injected"):
        parse_scenario(_minimal(error_rate={418: 0.5}))


def test_probabilities_must_not_exceed_one():
    """error_rate probabilities adding up to more than 1 are rejected."""
    with pytest.raises(ScenarioError, match="more than 1"):
        parse_scenario(_minimal(error_rate={500: 0.7, 503: 0.7}))


def test_529_is_anthropic_only():
    """Only anthropic-type providers may inject Anthropic's 529."""
    with pytest.raises(ScenarioError, match="529"):
        parse_scenario(_minimal(error_rate={529: 0.1}))


def test_duplicate_provider_names_are_rejected():
    """Two providers may not share a name (they would share a URL prefix)."""
    provider = {"name": "p", "type": "vllm", "models": [{"id": "m"}]}
    with pytest.raises(ScenarioError, match="provider name 'p' appears twice"):
        parse_scenario({"providers": [provider, provider]})


def test_reserved_admin_prefix_cannot_be_a_provider_name():
    """A provider name cannot start with '_', so /_sim stays the admin prefix."""
    data = {"providers": [{"name": "_sim", "type": "openai", "models": [{"id": "m"}]}]}
    with pytest.raises(ScenarioError, match=r"providers\[0\]\.name"):
        parse_scenario(data)


def test_bad_regex_is_named():
    """A scripted response with an invalid prompt regex names the key."""
    data = _minimal()
    data["providers"][0]["responses"] = [{"match": {"prompt": "("}, "reply": "x"}]
    with pytest.raises(ScenarioError, match=r"responses\[0\]\.match\.prompt.*regular expression"):
        parse_scenario(data)


def test_response_needs_content():
    """A scripted response with neither reply nor tool_calls is rejected."""
    data = _minimal()
    data["providers"][0]["responses"] = [{"match": {"model": "m"}}]
    with pytest.raises(ScenarioError, match="'reply' or 'tool_calls'"):
        parse_scenario(data)


def test_invalid_yaml_reports_line(tmp_path: Path):
    """Broken YAML fails with the line number, not a parser traceback."""
    path = tmp_path / "broken.yaml"
    path.write_text("providers:\n  - name: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"not valid YAML at line \d+"):
        load_scenario(path)


def test_missing_file_is_reported(tmp_path: Path):
    """A missing scenario file is a ScenarioError (a ConfigError), not an OSError."""
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_scenario(tmp_path / "nope.yaml")


def test_errors_are_one_line():
    """Several problems still produce a single line that counts the others."""
    data = {"providers": [{"name": "p", "type": "nope", "models": [], "extra": 1}]}
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data)
    assert "\n" not in str(caught.value)
    assert re.search(r"and \d+ more problems", str(caught.value))


def test_hang_accepts_bool_or_probability():
    """hang: true means always; a float is a probability."""
    assert ModelSpec(id="m", hang=True).hang == 1.0
    assert ModelSpec(id="m", hang=0.25).hang == 0.25


def _keys(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


@pytest.mark.parametrize(
    "model",
    [Scenario, ProviderSpec, ModelSpec, RateLimitSpec, ResponseSpec, MatchSpec, ToolCallSpec],
)
def test_every_scenario_key_is_documented(model: type[BaseModel]):
    """Each scenario key appears in docs/PROVIDERS.md and in the example file's comments."""
    docs = (REPO / "docs" / "PROVIDERS.md").read_text()
    example = EXAMPLE.read_text()
    for key in _keys(model):
        assert f"`{key}`" in docs, f"{model.__name__}.{key} is not documented in PROVIDERS.md"
        assert key in example, f"{model.__name__}.{key} is missing from sim.example.yaml"


@pytest.mark.parametrize(
    ("provider", "message"),
    [
        ({"type": "anthropic", "models": [{"id": "m", "reasoning": True}]},
         "'reasoning' is for openai and vllm providers"),
        ({"type": "vllm", "models": [{"id": "m", "redacted_thinking": "also"}]},
         "'redacted_thinking' is Anthropic's"),
        ({"type": "openai", "thinking_key": "k", "models": [{"id": "m"}]},
         "'thinking_key' is Anthropic's"),
        ({"type": "anthropic", "models": [{"id": "m", "redacted_thinking": "sometimes"}]},
         "Input should be 'off', 'instead' or 'also'"),
    ],
)  # fmt: skip
def test_reasoning_options_belong_to_their_provider_type(provider: dict[str, object], message: str):
    """Reasoning options given to a provider type that cannot use them fail naming the option."""
    with pytest.raises(ScenarioError, match=re.escape(message)):
        parse_scenario({"providers": [{"name": "p", **provider}]})
