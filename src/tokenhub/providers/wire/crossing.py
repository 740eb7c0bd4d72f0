"""What each request field becomes when a client's format differs from the upstream's.

One table per direction, keyed by the client's top-level body fields. A renderer of the
other format calls :func:`note_fields` with the client's own body: a field the table says
is not carried, or a field the table does not know, becomes a :class:`FieldNote` (sent to
the client as ``X-Tokenhub-Warnings``, or a 400 under strict field handling). The same
tables are rendered into docs/API.md by cog (:func:`field_table`), so the documentation
is the code. Value-dependent losses (a ``temperature`` clamped, a ``service_tier`` with no
counterpart) are noted by the renderers themselves.

Reasoning crosses by effort: an Anthropic ``thinking`` budget of at most
:data:`LOW_BUDGET` tokens is OpenAI's ``low``, at most :data:`MEDIUM_BUDGET` ``medium``,
more ``high``; each effort is sent to Anthropic as the budget in :data:`EFFORT_BUDGETS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tokenhub.types import FieldNote

LOW_BUDGET = 4096
MEDIUM_BUDGET = 16384
MIN_BUDGET = 1024
"""Anthropic's smallest ``budget_tokens``."""
EFFORT_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576, "xhigh": 32768}
"""The Anthropic thinking budget sent for each OpenAI ``reasoning_effort``."""
NO_REASONING = frozenset({"none", "minimal"})
"""Efforts that mean (next to) no reasoning: Anthropic thinks not at all."""
ANTHROPIC_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "high"}
"""Anthropic's ``output_config.effort`` as an OpenAI ``reasoning_effort`` (``max``, which
OpenAI lacks, is its ``high``)."""
SERVICE_TIERS = {"auto": "auto", "default": "standard_only"}
"""OpenAI's ``service_tier`` values with an Anthropic counterpart, and the reverse."""


@dataclass(frozen=True, slots=True)
class Crossing:
    """How one client field reaches the other format, or why it cannot."""

    field: str
    carried: str | None
    """How it is sent (Markdown); ``None``: it is not."""
    reason: str = ""
    """Why it is not carried (the warning's text)."""
    vllm: str | None = None
    """How it is sent to vLLM, when that differs (an extension vLLM accepts)."""
    harmless: Callable[[Any], bool] | None = None
    """Values that lose nothing when dropped (``logprobs: false``): not noted."""
    harmless_doc: str = ""


def _false(value: Any) -> bool:
    return value is False or value is None


def _text_only(value: Any) -> bool:
    return bool(value == ["text"])


def _one(value: Any) -> bool:
    return value in (None, 1)


_NO_LOGPROBS = "Anthropic returns no token log-probabilities"


def _table(*entries: Crossing) -> dict[str, Crossing]:
    return {entry.field: entry for entry in entries}


OPENAI_TO_ANTHROPIC = _table(
    Crossing("model", "`model`: the routed model's upstream id"),
    Crossing(
        "messages",
        "`system` (system and developer messages, in order) and `messages`: tool messages"
        " become `tool_result` blocks, assistant `tool_calls` `tool_use` blocks (text first),"
        " `thinking_blocks` signed `thinking` blocks (in place, before the `tool_use`);"
        " consecutive same-role turns merge",
    ),
    Crossing("max_completion_tokens", "`max_tokens`"),
    Crossing("max_tokens", "`max_tokens` (neither sent: the model's `max_output_tokens`)"),
    Crossing("temperature", "`temperature`, clamped to 1 (noted when it is)"),
    Crossing("top_p", "`top_p`"),
    Crossing("top_k", "`top_k` (a vLLM extension; Anthropic has it too)"),
    Crossing("stop", "`stop_sequences`"),
    Crossing("stream", "`stream`"),
    Crossing(
        "stream_options",
        "Anthropic streams always report usage; `include_usage` decides whether the client"
        " sees the usage chunk",
    ),
    Crossing(
        "tools",
        "`tools`: `function.parameters` → `input_schema`, `function.strict` → `strict`;"
        " a tool of another type (`custom`) is noted",
    ),
    Crossing(
        "tool_choice",
        '`tool_choice`: `"auto"` → `auto`, `"none"` → `none`, `"required"` → `any`, a named'
        " function → `tool` with its `name`, `allowed_tools` → only the allowed tools are sent,"
        " with `auto` (mode `auto`) or `any` (mode `required`)",
    ),
    Crossing(
        "parallel_tool_calls",
        "`false` → `tool_choice.disable_parallel_tool_use: true` (with tools)",
    ),
    Crossing(
        "response_format",
        "`json_schema` → `output_config.format` (`{type: json_schema, schema}`; Anthropic"
        " always holds the answer to the schema, and `name` is a label it has no field for);"
        " `json_object` → an instruction appended to `system`; `text` → nothing",
    ),
    Crossing("user", "`metadata.user_id`"),
    Crossing(
        "reasoning_effort",
        f"`thinking`: `low`, `medium`, `high`, `xhigh` → `enabled` with `budget_tokens`"
        f" {', '.join(f'{v:,}' for v in EFFORT_BUDGETS.values())} (at most half of"
        f" `max_tokens`, at least {MIN_BUDGET:,}); `none`, `minimal` → no thinking. With"
        " thinking on, a `temperature` other than 1, `top_k` and a `top_p` below 0.95 are"
        " dropped and noted (Anthropic refuses them); a `tool_choice` forcing a tool, or"
        " tool results answering a turn that does not open with signed `thinking_blocks`,"
        " send no thinking (noted)",
    ),
    Crossing(
        "service_tier",
        '`service_tier`: `"auto"` → `auto`, `"default"` → `standard_only`; other tiers are noted',
    ),
    Crossing("n", "1 only (more is refused)", harmless=_one),
    Crossing("logprobs", None, _NO_LOGPROBS, harmless=_false, harmless_doc="`false`"),
    Crossing("top_logprobs", None, _NO_LOGPROBS),
    Crossing("logit_bias", None, "Anthropic has no token biases"),
    Crossing("seed", None, "Anthropic has no seeded sampling"),
    Crossing("presence_penalty", None, "Anthropic has no presence penalty"),
    Crossing("frequency_penalty", None, "Anthropic has no frequency penalty"),
    Crossing("metadata", None, "Anthropic's metadata holds only user_id (send user)"),
    Crossing(
        "store",
        None,
        "Anthropic keeps no stored completions",
        harmless=_false,
        harmless_doc="`false`",
    ),
    Crossing("prediction", None, "Anthropic has no predicted outputs"),
    Crossing(
        "modalities",
        None,
        "Anthropic answers in text only",
        harmless=_text_only,
        harmless_doc='`["text"]`',
    ),
    Crossing("audio", None, "Anthropic answers in text only"),
    Crossing("verbosity", None, "Anthropic has no verbosity setting"),
    Crossing("web_search_options", None, "Anthropic's web search is a server tool, not an option"),
    Crossing("prompt_cache_key", None, "Anthropic caches by cache_control breakpoints, not keys"),
    Crossing("prompt_cache_retention", None, "Anthropic sets a cache TTL per breakpoint"),
    Crossing("safety_identifier", None, "Anthropic's only end-user field is user (metadata)"),
    Crossing("functions", None, "the deprecated functions API: send tools"),
    Crossing("function_call", None, "the deprecated functions API: send tool_choice"),
)

ANTHROPIC_TO_OPENAI = _table(
    Crossing("model", "`model`: the routed model's upstream id"),
    Crossing("max_tokens", "`max_completion_tokens` (0, a cache warm-up, is sent as 1)"),
    Crossing("system", "`system` messages, first"),
    Crossing(
        "messages",
        "`messages`: `tool_result` blocks become `tool` messages (their images a `user`"
        " message after them), `tool_use` blocks assistant `tool_calls`; signed `thinking` and"
        " `redacted_thinking` blocks are valid only for Anthropic models and are dropped"
        " (noted), as are blocks OpenAI has no part for (`document`, `search_result`, server"
        " tool blocks...: noted, by position)",
    ),
    Crossing("temperature", "`temperature`"),
    Crossing("top_p", "`top_p`"),
    Crossing("top_k", None, "OpenAI's API has no top_k", vllm="`top_k`"),
    Crossing("stop_sequences", "`stop` (OpenAI takes the first 4, the rest noted; vLLM all)"),
    Crossing("stream", "`stream`, with `stream_options.include_usage`"),
    Crossing(
        "tools",
        "`tools` as functions: `input_schema` → `parameters`, `strict` → `function.strict`;"
        " server tools (`web_search_20250305`...) have no OpenAI form and are noted",
    ),
    Crossing(
        "tool_choice",
        '`tool_choice`: `auto` → `"auto"`, `any` → `"required"`, `none` → `"none"`,'
        " `tool` → a named function; `disable_parallel_tool_use: true` →"
        " `parallel_tool_calls: false` (with tools)",
    ),
    Crossing("metadata", "`metadata.user_id` → `user`"),
    Crossing(
        "thinking",
        "`reasoning_effort`: `enabled` with `budget_tokens` up to"
        f" {LOW_BUDGET:,} → `low`, up to {MEDIUM_BUDGET:,} → `medium`, more → `high`;"
        " `adaptive` → the `output_config.effort` sent, else the model's default (no"
        " `reasoning_effort`); `disabled` → nothing (the model's default)",
    ),
    Crossing(
        "output_config",
        "`format` → `response_format` `json_schema` (named `response`, `strict: true`);"
        " `effort` → `reasoning_effort` (`max` → `high`)",
    ),
    Crossing("output_format", "as `output_config.format` (its earlier, beta name)"),
    Crossing(
        "service_tier",
        '`service_tier`: `auto` → `"auto"`, `standard_only` → `"default"`',
    ),
    Crossing(
        "cache_control",
        "nothing: OpenAI-format servers cache prompt prefixes by themselves (block"
        " `cache_control` breakpoints are left out the same way, silently)",
    ),
    Crossing("container", None, "OpenAI has no code-execution containers"),
    Crossing("mcp_servers", None, "OpenAI chat completions connect to no MCP servers"),
    Crossing("context_management", None, "OpenAI has no server-side context editing"),
    Crossing("inference_geo", None, "OpenAI chooses no inference region per request"),
)


def note_fields(
    body: dict[str, Any],
    table: Mapping[str, Crossing],
    upstream: str,
    notes: list[FieldNote],
    *,
    vllm: bool = False,
) -> None:
    """Add a note for each of the client's top-level fields ``upstream`` will not receive."""
    for name, value in body.items():
        entry = table.get(name)
        if entry is None:
            notes.append(FieldNote(name, f"no counterpart in the {upstream} format"))
            continue
        carried = entry.vllm if vllm and entry.vllm is not None else entry.carried
        if carried is None and not (entry.harmless is not None and entry.harmless(value)):
            notes.append(FieldNote(name, entry.reason))


def effort_for_budget(budget: int) -> str:
    """The OpenAI ``reasoning_effort`` for an Anthropic thinking budget."""
    if budget <= LOW_BUDGET:
        return "low"
    return "medium" if budget <= MEDIUM_BUDGET else "high"


def budget_for_effort(effort: str, max_tokens: int) -> int | None:
    """The Anthropic budget for an effort: at most half ``max_tokens``; ``None``: no thinking.

    An effort Anthropic cannot think at (``none``, or too few ``max_tokens``) is ``None``.
    """
    if effort in NO_REASONING or max_tokens <= MIN_BUDGET:
        return None
    wanted = EFFORT_BUDGETS.get(effort, EFFORT_BUDGETS["medium"])
    return min(wanted, max(MIN_BUDGET, max_tokens // 2))


def field_table(direction: str) -> str:
    """The Markdown table of one direction (``openai-to-anthropic``, ``anthropic-to-openai``)."""
    if direction == "openai-to-anthropic":
        table, header = OPENAI_TO_ANTHROPIC, "| OpenAI client field | sent to Anthropic as |"
    else:
        table, header = ANTHROPIC_TO_OPENAI, "| Anthropic client field | sent to OpenAI/vLLM as |"
    rows = [header, "|---|---|"]
    rows.extend(f"| `{entry.field}` | {_how(entry)} |" for entry in table.values())
    return "\n".join(rows) + "\n"


def _how(entry: Crossing) -> str:
    if entry.carried is not None:
        return entry.carried
    how = f"not carried (noted): {entry.reason}"
    if entry.harmless_doc:
        how += f"; {entry.harmless_doc} loses nothing and is not noted"
    if entry.vllm is not None:
        how = f"vLLM: {entry.vllm}; OpenAI: {how}"
    return how
