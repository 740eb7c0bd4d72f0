from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import openai
import pytest

from tokenhub.sim import Scenario, Simulator, start_simulator

USER = [{"role": "user", "content": "hello there"}]
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
QWEN = "Qwen/Qwen2.5-7B-Instruct"


def _scenario() -> Scenario:
    return Scenario.model_validate(
        {
            "seed": 3,
            "providers": [
                {"name": "vllm-a", "type": "vllm",
                 "models": [{"id": LLAMA, "context_window": 1000, "output_tokens": 8}]},
                {"name": "vllm-b", "type": "vllm", "api_key": "vllm-secret",
                 "models": [{"id": QWEN, "context_window": 4000, "output_tokens": 20,
                             "error_rate": {503: 1.0}}]},
            ],
        }
    )  # fmt: skip


@pytest.fixture
async def two() -> AsyncIterator[tuple[Simulator, openai.AsyncOpenAI, openai.AsyncOpenAI]]:
    """Two vLLM endpoints in one simulator, with a client for each."""
    async with (
        start_simulator(_scenario()) as sim,
        openai.AsyncOpenAI(base_url=sim.base_url("vllm-a"), api_key="EMPTY", max_retries=0) as a,
        openai.AsyncOpenAI(base_url=sim.base_url("vllm-b"), api_key="vllm-secret",
                           max_retries=0) as b,
    ):  # fmt: skip
        yield sim, a, b


async def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as r:
        return r.status, await r.json()


async def test_completion_has_vllm_shape(two: tuple[Simulator, Any, Any]):
    """A vLLM completion has hex ids, stop_reason, prompt_logprobs and no fingerprint."""
    _, a, _ = two
    raw = await a.chat.completions.with_raw_response.create(model=LLAMA, messages=USER)
    completion = raw.parse()
    assert re.fullmatch(r"chatcmpl-[0-9a-f]{32}", completion.id)
    assert completion.system_fingerprint is None
    assert completion.model_extra == {"prompt_logprobs": None}
    assert completion.choices[0].model_extra["stop_reason"] is None
    assert completion.usage.completion_tokens == 8
    assert re.fullmatch(r"[0-9a-f]{32}", raw.headers["x-request-id"])
    assert not any(h.startswith("x-ratelimit") for h in raw.headers)


async def test_stream_with_usage(two: tuple[Simulator, Any, Any]):
    """The SDK iterates a vLLM stream and reads the final usage chunk."""
    _, a, _ = two
    stream = await a.chat.completions.create(
        model=LLAMA, messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text) == 8 * 4 - 1
    assert chunks[-1].usage.completion_tokens == 8


async def test_endpoints_behave_separately(two: tuple[Simulator, Any, Any]):
    """Each vLLM endpoint serves its own models with its own error rate."""
    _, a, b = two
    assert (await a.chat.completions.create(model=LLAMA, messages=USER)).choices
    with pytest.raises(openai.InternalServerError) as caught:
        await b.chat.completions.create(model=QWEN, messages=USER)
    assert caught.value.status_code == 503
    assert caught.value.body == {
        "object": "error", "message": "Service unavailable", "type": "ServiceUnavailableError",
        "param": None, "code": 503,
    }  # fmt: skip
    with pytest.raises(openai.NotFoundError):
        await a.chat.completions.create(model=QWEN, messages=USER)


async def test_unknown_model_flat_error(two: tuple[Simulator, Any, Any]):
    """VLLM's 404 is a flat error object of type NotFoundError."""
    sim, _, _ = two
    status, body = await _post(f"{sim.base_url('vllm-a')}/chat/completions",
                               {"model": "gpt-4o", "messages": USER})  # fmt: skip
    assert status == 404
    assert body == {"object": "error", "message": "The model `gpt-4o` does not exist.",
                    "type": "NotFoundError", "param": None, "code": 404}  # fmt: skip


async def test_context_error_in_vllm_wording(two: tuple[Simulator, Any, Any]):
    """A context overflow is vLLM's BadRequestError with its own wording and code 400."""
    _, a, _ = two
    ask = [{"role": "user", "content": "x" * 3600}]
    with pytest.raises(openai.BadRequestError) as caught:
        await a.chat.completions.create(model=LLAMA, messages=ask, max_tokens=200)
    assert caught.value.body == {
        "object": "error",
        "message": "This model's maximum context length is 1000 tokens. However, you requested "
        "1104 tokens (904 in the messages, 200 in the completion). Please reduce the length "
        "of the messages or completion.",
        "type": "BadRequestError",
        "param": None,
        "code": 400,
    }


async def test_context_error_without_max_tokens(two: tuple[Simulator, Any, Any]):
    """Without max_tokens vLLM reports the prompt length alone."""
    _, a, _ = two
    with pytest.raises(openai.BadRequestError, match="you requested 1254 tokens in the messages"):
        await a.chat.completions.create(
            model=LLAMA, messages=[{"role": "user", "content": "x" * 5000}]
        )


async def test_unauthorized_body(two: tuple[Simulator, Any, Any]):
    """A keyed vLLM endpoint answers a wrong key with {"error": "Unauthorized"}."""
    sim, _, _ = two
    url = f"{sim.base_url('vllm-b')}/chat/completions"
    status, body = await _post(
        url, {"model": QWEN, "messages": USER}, {"Authorization": "Bearer x"}
    )
    assert (status, body) == (401, {"error": "Unauthorized"})


async def test_models_list_has_max_model_len(two: tuple[Simulator, Any, Any]):
    """VLLM's model list carries owned_by vllm, root and max_model_len."""
    _, a, _ = two
    [model] = [m async for m in a.models.list()]
    assert (model.id, model.owned_by) == (LLAMA, "vllm")
    assert model.model_extra["max_model_len"] == 1000
    assert model.model_extra["root"] == LLAMA


def _reasoning_scenario() -> Scenario:
    model = {"id": "Qwen/QwQ-32B", "output_tokens": 5, "thinking_tokens": 4, "reasoning": True}
    return Scenario.model_validate(
        {
            "seed": 4,
            "providers": [
                {"name": "vllm", "type": "vllm", "models": [model]},
                {"name": "deepseek", "type": "openai", "models": [model]},
            ],
        }
    )


@pytest.fixture
async def reasoner() -> AsyncIterator[tuple[openai.AsyncOpenAI, openai.AsyncOpenAI]]:
    """Clients for a reasoning model behind a vLLM face and an OpenAI-compatible face."""
    async with (
        start_simulator(_reasoning_scenario()) as sim,
        openai.AsyncOpenAI(base_url=sim.base_url("vllm"), api_key="x", max_retries=0) as vllm,
        openai.AsyncOpenAI(base_url=sim.base_url("deepseek"), api_key="x", max_retries=0) as ds,
    ):
        yield vllm, ds


async def test_reasoning_content_in_the_message(reasoner: tuple[openai.AsyncOpenAI, Any]):
    """A reasoning model's message carries reasoning_content; usage counts its tokens."""
    vllm, _ = reasoner
    completion = await vllm.chat.completions.create(model="Qwen/QwQ-32B", messages=USER)
    message = completion.choices[0].message
    reasoning = message.model_extra["reasoning_content"]
    assert len(reasoning) == 4 * 4 - 1
    assert message.content
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4 + 5


async def test_reasoning_streams_before_content(reasoner: tuple[openai.AsyncOpenAI, Any]):
    """Streamed reasoning_content deltas come after the role chunk and before any content."""
    vllm, _ = reasoner
    stream = await vllm.chat.completions.create(model="Qwen/QwQ-32B", messages=USER, stream=True)
    deltas = [c.choices[0].delta async for c in stream if c.choices]
    kinds = [
        "reasoning" if (d.model_extra or {}).get("reasoning_content") else
        "content" if d.content else "other" for d in deltas
    ]  # fmt: skip
    assert kinds == ["other"] + ["reasoning"] * 4 + ["content"] * 5 + ["other"]
    assert "content" not in deltas[1].model_fields_set


async def test_no_reasoning_model_keeps_null_slot(two: tuple[Simulator, Any, Any]):
    """Without reasoning the vLLM message keeps reasoning_content null."""
    _, a, _ = two
    completion = await a.chat.completions.create(model=LLAMA, messages=USER)
    assert completion.choices[0].message.model_extra["reasoning_content"] is None


async def test_openai_compatible_face_reasons_too(reasoner: tuple[Any, openai.AsyncOpenAI]):
    """An openai-type provider with a reasoning model sends reasoning_content the same way."""
    _, deepseek = reasoner
    completion = await deepseek.chat.completions.create(model="Qwen/QwQ-32B", messages=USER)
    assert completion.choices[0].message.model_extra["reasoning_content"]
    assert completion.usage is not None
    assert completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 4
    async with deepseek.chat.completions.stream(model="Qwen/QwQ-32B", messages=USER) as stream:
        final = await stream.get_final_completion()
    assert final.choices[0].message.content


async def test_vllm_logprobs_have_no_refusal(two: tuple[Simulator, Any, Any]):
    """The vLLM face returns logprobs content without OpenAI's refusal list."""
    sim, _, _ = two
    status, body = await _post(
        f"{sim.base_url('vllm-a')}/chat/completions",
        {"model": LLAMA, "messages": USER, "logprobs": True, "top_logprobs": 1},
    )
    assert status == 200
    logprobs = body["choices"][0]["logprobs"]
    assert list(logprobs) == ["content"]
    assert len(logprobs["content"]) == 8
