"""parse_response/render_response of OpenAI answers: reasoning, logprobs, what is noted."""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletion

from tokenhub.providers.wire import openai
from tokenhub.types import ChatResponse, FieldNote, Message, TextPart, ThinkingPart, Usage


def completion(message: dict[str, Any], **choice: Any) -> dict[str, Any]:
    """A chat.completion shaped as OpenAI and vLLM send it."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "served",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", **message},
                "logprobs": None,
                "finish_reason": "stop",
                **choice,
            }
        ],
        "usage": {
            "prompt_tokens": 30,
            "completion_tokens": 50,
            "total_tokens": 80,
            "prompt_tokens_details": {"cached_tokens": 10, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 35, "audio_tokens": 0},
        },
        "system_fingerprint": "fp_1",
        "service_tier": "default",
    }


# vLLM's reasoning parser output (docs: "Reasoning Outputs").
VLLM = completion({"content": "9.8 is greater.", "reasoning_content": "Compare 9.11 and 9.8."})

LOGPROBS = {
    "content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}],
    "refusal": None,
}


def test_vllm_reasoning_content_is_a_thinking_part():
    """reasoning_content is unsigned thinking before the text; usage details are counted."""
    resp = openai.parse_response(VLLM)
    assert resp.message.content == [
        ThinkingPart("Compare 9.11 and 9.8."),
        TextPart("9.8 is greater."),
    ]
    assert resp.usage == Usage(30, 50, cache_read_tokens=10, reasoning_tokens=35)
    assert resp.unmapped == []


def test_newer_vllm_reasoning_field_is_read_too():
    """Newer vLLM names the field ``reasoning``: it is thinking as well."""
    resp = openai.parse_response(completion({"content": "ok", "reasoning": "think"}))
    assert resp.message.content[0] == ThinkingPart("think")


def test_reasoning_renders_as_reasoning_content():
    """Thinking reaches an OpenAI client as message.reasoning_content, usage details kept."""
    notes: list[FieldNote] = []
    body = openai.render_response(openai.parse_response(VLLM), notes)
    sdk = ChatCompletion.model_validate(body)
    message = sdk.choices[0].message
    assert message.content == "9.8 is greater."
    assert (message.model_extra or {})["reasoning_content"] == "Compare 9.11 and 9.8."
    assert sdk.usage is not None
    assert sdk.usage.completion_tokens_details is not None
    assert sdk.usage.completion_tokens_details.reasoning_tokens == 35
    assert notes == []


def test_signatures_redactions_and_stop_sequences_are_noted():
    """What of an Anthropic answer an OpenAI client cannot see is noted, once each."""
    parts = [
        ThinkingPart("a", signature="sig1"),
        ThinkingPart("b", signature="sig2"),
        ThinkingPart("", redacted="opaque"),
        TextPart("done"),
    ]
    resp = ChatResponse("m1", "c", Message("assistant", parts), "stop", stop_sequence="###")
    notes: list[FieldNote] = []
    body = openai.render_response(resp, notes)
    assert body["choices"][0]["message"]["reasoning_content"] == "ab"
    assert [n.field for n in notes] == ["thinking.signature", "redacted_thinking", "stop_sequence"]


def test_thinking_only_answer_has_null_content():
    """An answer with reasoning and no text has content null, as OpenAI sends tool-only turns."""
    resp = ChatResponse("m1", "c", Message("assistant", [ThinkingPart("x")]), "length")
    assert openai.render_response(resp)["choices"][0]["message"]["content"] is None


def test_logprobs_annotations_audio_and_more_choices_are_unmapped():
    """Every part of an answer the canonical form lacks is named, and reported on render."""
    annotation = {
        "type": "url_citation",
        "url_citation": {"url": "https://e.x", "title": "E", "start_index": 0, "end_index": 2},
    }
    body = completion(
        {"content": "Hi", "annotations": [annotation], "audio": {"id": "a1", "data": "AAA"}},
        logprobs=LOGPROBS,
    )
    body["choices"].append({**body["choices"][0], "index": 1})
    resp = openai.parse_response(body)
    assert [n.field for n in resp.unmapped] == [
        "choices[0].logprobs",
        "choices[0].message.annotations",
        "choices[0].message.audio",
        "choices",
    ]
    notes: list[FieldNote] = []
    openai.render_response(resp, notes)
    assert notes == resp.unmapped


def test_empty_annotations_and_null_logprobs_are_not_noted():
    """What OpenAI sends empty on every answer (annotations [], logprobs null) is no loss."""
    resp = openai.parse_response(completion({"content": "Hi", "annotations": [], "refusal": None}))
    assert resp.unmapped == []


def test_cache_writes_render_as_cache_creation_tokens():
    """Anthropic cache writes, which OpenAI does not report, appear in prompt_tokens_details."""
    usage = Usage(100, 5, cache_read_tokens=20, cache_write_tokens=30)
    resp = ChatResponse("m1", "c", Message("assistant", [TextPart("x")]), "stop", usage)
    details = openai.render_response(resp)["usage"]["prompt_tokens_details"]
    assert details == {"cached_tokens": 20, "cache_creation_tokens": 30}
