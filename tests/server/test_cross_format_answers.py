"""Answers across formats through the daemon and the official SDKs: thinking, notes, usage."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from aiohttp.test_utils import TestServer

from tokenhub.schemas import ProviderConfig
from tokenhub.sim import ModelSpec, ProviderSpec
from tokenhub.testing.polling import async_wait_until
from tokenhub.testing.stack import gateway_stack, provider_for

from . import routing_stack
from .canned import CannedUpstream

HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def cross(tokenhub_home):
    """The routing stack plus a reasoning vLLM model (simulated) and two canned upstreams."""
    canned_an, canned_oa = CannedUpstream(), CannedUpstream()
    scenario = routing_stack.scenario()
    vllm = ProviderSpec(
        name="vl",
        type="vllm",
        models=(ModelSpec(id="qwen-r", output_tokens=6, thinking_tokens=5, reasoning=True),),
    )
    scenario = scenario.model_copy(update={"providers": (*scenario.providers, vllm)})
    async with TestServer(canned_an.app()) as an_server, TestServer(canned_oa.app()) as oa_server:

        def registry(sim: Any) -> Any:
            providers, models = routing_stack.registry(sim)
            providers += [
                provider_for(sim, "vl", timeout_s=2),
                _canned("can-an", "anthropic", str(an_server.make_url(""))),
                _canned("can-oa", "openai", str(oa_server.make_url("/v1"))),
            ]
            models += [
                routing_stack.model("qwen-r", "vl", "qwen-r"),
                routing_stack.model("canned-claude", "can-an", "claude-canned"),
                routing_stack.model("canned-gpt", "can-oa", "gpt-canned"),
            ]
            return providers, models

        settings = {"request_log": {"log_bodies": True}}
        async with gateway_stack(scenario, registry, settings=settings) as stack:
            yield stack, canned_an, canned_oa


def _canned(pid: str, kind: str, url: str) -> ProviderConfig:
    return ProviderConfig.model_validate(
        {"id": pid, "type": kind, "base_url": url.rstrip("/"), "timeout_s": 2}
    )


@pytest.fixture
async def oai_x(cross):
    """An OpenAI client of the cross-format stack."""
    async with openai.AsyncOpenAI(
        base_url=f"{cross[0].url}/v1", api_key="unused", max_retries=0
    ) as client:
        yield client


@pytest.fixture
async def claude_x(cross):
    """An Anthropic client of the cross-format stack."""
    async with anthropic.AsyncAnthropic(
        base_url=cross[0].url, api_key="unused", max_retries=0
    ) as client:
        yield client


def thinking_message(**extra: Any) -> dict[str, Any]:
    """An Anthropic extended-thinking answer: a signed thinking block, then the text."""
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-canned",
        "content": [
            {"type": "thinking", "thinking": "2 + 2 is 4.", "signature": "EqQBCgIYAhIM"},
            {"type": "text", "text": "4"},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "cache_read_input_tokens": 90,
            "output_tokens": 30,
            "output_tokens_details": {"thinking_tokens": 20},
        },
        **extra,
    }


THINKING_STREAM = [
    {
        "type": "message_start",
        "message": {
            **thinking_message(),
            "content": [],
            "stop_reason": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    },
    {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "thinking", "thinking": "", "signature": ""},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": "2 + 2"},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "thinking_delta", "thinking": " is 4."},
    },
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "signature_delta", "signature": "EqQB"},
    },
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {
            "type": "citations_delta",
            "citation": {"type": "char_location", "cited_text": "4"},
        },
    },
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "4"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 30, "output_tokens_details": {"thinking_tokens": 20}},
    },
    {"type": "message_stop"},
]


async def test_anthropic_thinking_reaches_an_openai_client_as_reasoning_content(cross, oai_x):
    """Thinking is reasoning_content; its signature is named in the header and the body."""
    cross[1].enqueue_json(thinking_message())
    raw = await oai_x.chat.completions.with_raw_response.create(model="canned-claude", messages=HI)
    completion = raw.parse()
    message = completion.choices[0].message
    assert message.content == "4"
    assert (message.model_extra or {})["reasoning_content"] == "2 + 2 is 4."
    assert "thinking.signature" in raw.headers["x-tokenhub-warnings"]
    warnings = (completion.model_extra or {})["tokenhub"]["warnings"]
    assert any(w.startswith("thinking.signature: ") for w in warnings)
    usage = completion.usage
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 20
    assert usage.prompt_tokens_details is not None
    assert (usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens) == (100, 90)


async def test_usage_counts_cache_reads_and_thinking_in_the_cost(cross, oai_x):
    """The cost header prices cache reads and thinking output as the provider reported them."""
    cross[1].enqueue_json(thinking_message())
    raw = await oai_x.chat.completions.with_raw_response.create(model="canned-claude", messages=HI)
    # routing_stack prices: 1 USD/Mtok input (cache reads too, none configured), 2 output.
    assert float(raw.headers["x-tokenhub-cost-usd"]) == pytest.approx((100 * 1 + 30 * 2) / 1e6)


async def test_streamed_thinking_reaches_an_openai_client(cross, oai_x):
    """Streamed thinking arrives as reasoning_content chunks; losses come at the end."""
    cross[1].enqueue_sse(THINKING_STREAM, named=True)
    stream = await oai_x.chat.completions.create(
        model="canned-claude", messages=HI, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
        for c in chunks
        if c.choices
    )
    assert reasoning == "2 + 2 is 4."
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "4"
    finish = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    warnings = (finish.model_extra or {})["tokenhub"]["warnings"]
    assert [w.split(":")[0] for w in warnings] == ["thinking.signature", "content[1].citations"]
    usage = chunks[-1].usage
    assert usage is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens == 20


async def test_stream_warnings_are_kept_in_the_request_log(cross, oai_x):
    """What a translated stream could not carry is logged with its answer."""
    stack = cross[0]
    cross[1].enqueue_sse(THINKING_STREAM, named=True)
    stream = await oai_x.chat.completions.create(model="canned-claude", messages=HI, stream=True)
    _ = [chunk async for chunk in stream]

    async def logged() -> Any:
        async with stack.admin.get("/admin/v1/requests") as response:
            rows = (await response.json())["data"]
        return rows[0]["body"]["response"] if rows else None

    response = await async_wait_until(logged)
    assert response["text"] == "4"
    assert [w.split(":")[0] for w in response["warnings"]] == [
        "thinking.signature",
        "content[1].citations",
    ]


async def test_vllm_reasoning_reaches_an_anthropic_client_as_thinking(cross, claude_x):
    """A vLLM reasoning_content is a thinking block (empty signature) before the text."""
    cross[0].sim.enqueue("vl", reply="Nine point eight.")
    message = await claude_x.messages.create(model="qwen-r", max_tokens=200, messages=HI)
    thinking, text = message.content
    assert thinking.type == "thinking"
    assert thinking.thinking
    assert thinking.signature == ""
    assert text.type == "text"
    assert text.text == "Nine point eight."


async def test_streamed_vllm_reasoning_reaches_an_anthropic_client(cross, claude_x):
    """Streamed reasoning_content becomes a thinking block the SDK's stream helper rebuilds."""
    cross[0].sim.enqueue("vl", reply="Nine point eight.")
    async with claude_x.messages.stream(model="qwen-r", max_tokens=200, messages=HI) as stream:
        message = await stream.get_final_message()
    thinking, text = message.content
    assert thinking.type == "thinking"
    assert thinking.thinking
    assert thinking.signature == ""
    assert text.type == "text"
    assert text.text == "Nine point eight."


def logprobs_completion() -> dict[str, Any]:
    """An OpenAI answer with token logprobs."""
    logprobs = {
        "content": [{"token": "Hi", "logprob": -0.2, "bytes": [72, 105], "top_logprobs": []}]
    }
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-canned",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hi",
                    "refusal": None,
                    "annotations": [],
                },
                "logprobs": logprobs,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }


async def test_openai_logprobs_are_named_to_an_anthropic_client(cross, claude_x):
    """An OpenAI answer's logprobs, which Anthropic cannot carry, are named in the warnings."""
    cross[2].enqueue_json(logprobs_completion())
    raw = await claude_x.messages.with_raw_response.create(
        model="canned-gpt", max_tokens=20, messages=HI
    )
    message = await raw.parse()
    assert message.content[0].type == "text"
    assert raw.headers["x-tokenhub-warnings"].startswith("choices[0].logprobs: ")
    assert (message.model_extra or {})["tokenhub"]["warnings"][0].startswith("choices[0].logprobs")


async def test_streamed_logprobs_are_named_to_an_anthropic_client(cross, claude_x):
    """Mid-stream losses reach an Anthropic stream's message_delta; SDKs skip the comments."""
    head = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-canned",
    }
    logprobs = {
        "content": [{"token": "Hi", "logprob": -0.2, "bytes": [72, 105], "top_logprobs": []}]
    }
    chunks = [
        {
            **head,
            "choices": [
                {
                    "index": 0,
                    "delta": {"role": "assistant", "content": "Hi"},
                    "logprobs": logprobs,
                    "finish_reason": None,
                }
            ],
        },
        {**head, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]},
        {
            **head,
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
        },
    ]
    cross[2].enqueue_sse(chunks, named=False)
    events = []
    async with claude_x.messages.stream(model="canned-gpt", max_tokens=20, messages=HI) as stream:
        events = [event async for event in stream]
        message = await stream.get_final_message()
    assert message.content[0].type == "text"
    delta = next(e for e in events if e.type == "message_delta")
    assert (delta.model_extra or {})["tokenhub"]["warnings"][0].startswith("choices[0].logprobs")


async def test_envelope_lists_thinking_and_warnings(cross):
    """/v1/chat shows reasoning whole in message.thinking and losses in warnings."""
    stack = cross[0]
    cross[1].enqueue_json(thinking_message(container={"id": "c1", "expires_at": "x"}))
    body = {"request": {"model": "canned-claude", "messages": HI}}
    async with stack.client.post("/v1/chat", json=body) as response:
        assert response.status == 200
        answer = (await response.json())["response"]
    assert answer["message"]["thinking"] == [
        {"text": "2 + 2 is 4.", "signature": "EqQBCgIYAhIM", "redacted": None}
    ]
    assert answer["usage"]["reasoning_tokens"] == 20
    assert [w.split(":")[0] for w in answer["warnings"]] == ["container"]
