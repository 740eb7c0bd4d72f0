from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import openai
import pytest

from tokenhub.sim import Simulator
from tokenhub.sim.logprobs import token_logprob

MODEL = "gpt-4o-mini"
USER = [{"role": "user", "content": "hello there"}]


def test_entry_shape_and_order():
    """An entry has token, logprob, UTF-8 bytes and k alternatives led by the token, descending."""
    entry = token_logprob(" the", 5)
    assert entry["token"] == " the"
    assert entry["bytes"] == [32, 116, 104, 101]
    assert -0.25 <= entry["logprob"] <= 0
    tops = entry["top_logprobs"]
    assert len(tops) == 5
    assert tops[0] == {"token": " the", "logprob": entry["logprob"], "bytes": entry["bytes"]}
    assert " the" not in [t["token"] for t in tops[1:]]
    assert [t["logprob"] for t in tops] == sorted((t["logprob"] for t in tops), reverse=True)
    assert token_logprob(" the", 5) == entry
    assert token_logprob("é", 0) == {
        "token": "é",
        "logprob": token_logprob("é", 0)["logprob"],
        "bytes": [195, 169],
        "top_logprobs": [],
    }


async def test_completion_carries_logprobs(oai: openai.AsyncOpenAI):
    """With logprobs and top_logprobs=k each answer token gets an entry with k alternatives."""
    completion = await oai.chat.completions.create(
        model=MODEL, messages=USER, logprobs=True, top_logprobs=3
    )
    choice = completion.choices[0]
    assert choice.logprobs is not None
    content = choice.logprobs.content
    assert content is not None
    assert "".join(t.token for t in content) == choice.message.content
    assert len(content) == 32
    assert all(len(t.top_logprobs) == 3 for t in content)
    assert choice.logprobs.refusal is None


async def test_logprobs_without_top(oai: openai.AsyncOpenAI):
    """Asking for logprobs alone gives empty top_logprobs; not asking gives null."""
    completion = await oai.chat.completions.create(model=MODEL, messages=USER, logprobs=True)
    content = completion.choices[0].logprobs.content
    assert content is not None
    assert {len(t.top_logprobs) for t in content} == {0}
    plain = await oai.chat.completions.create(model=MODEL, messages=USER)
    assert plain.choices[0].logprobs is None


async def test_streamed_chunks_carry_their_tokens_logprobs(sim: Simulator):
    """Content chunks carry their token's logprobs, the role chunk an empty list, finish null."""
    body = {"model": MODEL, "messages": USER, "stream": True, "logprobs": True,
            "top_logprobs": 2, "max_tokens": 3}  # fmt: skip
    chunks = await _stream(sim, body)
    first, *tokens, finish = [c["choices"][0] for c in chunks]
    assert first["logprobs"] == {"content": [], "refusal": None}
    assert len(tokens) == 3
    for chunk in tokens:
        [entry] = chunk["logprobs"]["content"]
        assert entry == token_logprob(chunk["delta"]["content"], 2)
        assert chunk["logprobs"]["refusal"] is None
    assert finish["logprobs"] is None


async def test_stream_helper_accumulates_logprobs(oai: openai.AsyncOpenAI):
    """The SDK's stream helper gathers the streamed logprobs into the final completion."""
    async with oai.chat.completions.stream(
        model=MODEL, messages=USER, logprobs=True, top_logprobs=1
    ) as stream:
        final = await stream.get_final_completion()
    choice = final.choices[0]
    assert choice.logprobs is not None
    assert choice.logprobs.content is not None
    assert "".join(t.token for t in choice.logprobs.content) == choice.message.content


async def test_sync_client_gets_logprobs(sim: Simulator):
    """The sync SDK client (in a thread) parses logprobs as well."""

    def call() -> int:
        with openai.OpenAI(base_url=sim.base_url("openai"), api_key="x", max_retries=0) as client:
            completion = client.chat.completions.create(
                model=MODEL, messages=USER, logprobs=True, max_tokens=4
            )
        return len(completion.choices[0].logprobs.content or ())

    assert await asyncio.to_thread(call) == 4


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"logprobs": True, "top_logprobs": 21}, "top_logprobs", "integer_above_max_value"),
        ({"logprobs": True, "top_logprobs": -1}, "top_logprobs", "integer_below_min_value"),
        ({"logprobs": True, "top_logprobs": "3"}, "top_logprobs", "invalid_type"),
        ({"logprobs": "yes"}, "logprobs", "invalid_type"),
        ({"service_tier": "fastest"}, "service_tier", "invalid_value"),
    ],
)
async def test_bad_values_are_rejected(
    oai: openai.AsyncOpenAI, extra: dict[str, Any], param: str, code: str
):
    """Out-of-range top_logprobs, non-boolean logprobs and unknown tiers are 400s with param."""
    with pytest.raises(openai.BadRequestError) as caught:
        await oai.chat.completions.create(model=MODEL, messages=USER, extra_body=extra)
    assert (caught.value.param, caught.value.code) == (param, code)


@pytest.mark.parametrize(
    ("asked", "served"),
    [(None, "default"), ("auto", "default"), ("flex", "flex"), ("priority", "priority")],
)
async def test_service_tier_is_echoed(oai: openai.AsyncOpenAI, asked: str | None, served: str):
    """The answer's service_tier is the tier asked for; auto (or none) runs on default."""
    extra = {} if asked is None else {"service_tier": asked}
    completion = await oai.chat.completions.create(model=MODEL, messages=USER, extra_body=extra)
    assert completion.service_tier == served
    assert completion.system_fingerprint is not None
    assert completion.system_fingerprint.startswith("fp_")


async def test_newer_fields_are_accepted_and_recorded(sim: Simulator, oai: openai.AsyncOpenAI):
    """metadata, store, prediction, modalities, verbosity and logit_bias pass and are recorded."""
    extra = {
        "metadata": {"run": "t1"},
        "store": False,
        "prediction": {"type": "content", "content": "hello"},
        "modalities": ["text"],
        "verbosity": "low",
        "logit_bias": {"50256": -100},
        "service_tier": "flex",
    }
    chunks = await oai.chat.completions.create(
        model=MODEL, messages=USER, stream=True, extra_body=extra
    )
    tiers = {chunk.service_tier async for chunk in chunks}
    assert tiers == {"flex"}
    body = sim.received_by("openai")[-1].body
    assert {k: body[k] for k in extra} == extra


async def _stream(sim: Simulator, body: dict[str, Any]) -> list[Any]:
    url = f"{sim.base_url('openai')}/chat/completions"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        text = await response.text()
    payloads = [line.removeprefix("data: ") for line in text.split("\n\n") if line]
    return [openai.types.chat.ChatCompletionChunk.model_validate_json(p).model_dump()
            for p in payloads if p != "[DONE]"]  # fmt: skip
