"""The cross-format field tables: what is noted, the effort/budget mapping, the docs table."""

from __future__ import annotations

import pytest

from tokenhub.providers.wire.crossing import (
    ANTHROPIC_TO_OPENAI,
    EFFORT_BUDGETS,
    OPENAI_TO_ANTHROPIC,
    budget_for_effort,
    effort_for_budget,
    field_table,
    note_fields,
)
from tokenhub.types import FieldNote


def noted(body: dict, *, vllm: bool = False, table=OPENAI_TO_ANTHROPIC) -> list[FieldNote]:
    """The notes for ``body`` crossing by ``table``."""
    notes: list[FieldNote] = []
    note_fields(body, table, "anthropic", notes, vllm=vllm)
    return notes


def test_carried_fields_are_not_noted():
    """Fields with a counterpart cross without a note."""
    body = {"model": "m", "messages": [], "stop": ["x"], "user": "u", "reasoning_effort": "low"}
    assert noted(body) == []


def test_uncarried_fields_are_noted_with_the_tables_reason():
    """logprobs, seed and logit_bias are each named with why Anthropic cannot carry them."""
    notes = noted({"model": "m", "logprobs": True, "seed": 1, "logit_bias": {"1": 2}})
    assert notes == [
        FieldNote("logprobs", "Anthropic returns no token log-probabilities"),
        FieldNote("seed", "Anthropic has no seeded sampling"),
        FieldNote("logit_bias", "Anthropic has no token biases"),
    ]


def test_unknown_fields_have_no_counterpart():
    """A field the table does not know (a vLLM extension, a new field) is noted as such."""
    assert noted({"min_p": 0.1}) == [FieldNote("min_p", "no counterpart in the anthropic format")]


@pytest.mark.parametrize(
    ("field", "value"), [("logprobs", False), ("store", False), ("modalities", ["text"])]
)
def test_values_that_lose_nothing_are_not_noted(field, value):
    """Logprobs false, store false and text-only modalities are dropped without a note."""
    assert noted({field: value}) == []


def test_vllm_carries_top_k_and_openai_notes_it():
    """An Anthropic client's top_k is carried to vLLM and noted for OpenAI."""
    body = {"top_k": 5}
    assert noted(body, table=ANTHROPIC_TO_OPENAI, vllm=True) == []
    assert noted(body, table=ANTHROPIC_TO_OPENAI) == [
        FieldNote("top_k", "OpenAI's API has no top_k")
    ]


@pytest.mark.parametrize(
    ("budget", "effort"),
    [(1024, "low"), (4096, "low"), (4097, "medium"), (16384, "medium"), (16385, "high")],
)
def test_budget_to_effort_thresholds(budget, effort):
    """Up to 4,096 tokens is low, up to 16,384 medium, more high."""
    assert effort_for_budget(budget) == effort


@pytest.mark.parametrize("effort", sorted(EFFORT_BUDGETS))
def test_effort_budgets_round_trip(effort):
    """Each effort's budget maps back to the same effort (xhigh, which Anthropic lacks, to high)."""
    budget = budget_for_effort(effort, 100_000)
    assert budget == EFFORT_BUDGETS[effort]
    assert effort_for_budget(budget) == ("high" if effort == "xhigh" else effort)


def test_budget_keeps_room_for_the_answer():
    """The budget is at most half of max_tokens, never below Anthropic's 1,024."""
    assert budget_for_effort("high", 10_000) == 5_000
    assert budget_for_effort("high", 1_500) == 1_024


@pytest.mark.parametrize(
    ("effort", "max_tokens"), [("none", 9000), ("minimal", 9000), ("low", 1024)]
)
def test_no_thinking_for_no_effort_or_no_room(effort, max_tokens):
    """None and minimal mean no thinking, as does a max_tokens Anthropic cannot think within."""
    assert budget_for_effort(effort, max_tokens) is None


@pytest.mark.parametrize(
    ("direction", "table"),
    [("openai-to-anthropic", OPENAI_TO_ANTHROPIC), ("anthropic-to-openai", ANTHROPIC_TO_OPENAI)],
)
def test_docs_table_lists_every_field(direction, table):
    """The generated Markdown has one row per field of the direction's table."""
    text = field_table(direction)
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(table)
    assert "| `top_k` | vLLM: `top_k`; OpenAI: not carried (noted)" in field_table(
        "anthropic-to-openai"
    )
