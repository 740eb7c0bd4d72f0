from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import anthropic
import pytest

from tokenhub.sim import Scenario, Simulator, start_simulator

USER = [{"role": "user", "content": "hello there"}]
MODEL = "claude-haiku-4-5"


def _scenario(**model: object) -> Scenario:
    responses = [
        {"match": {"prompt": "(?i)weather"}, "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]},
        {"match": {"prompt": "(?i)explain"}, "reply": "Let me check.", "tool_calls": [
            {"name": "lookup", "arguments": {"q": "gateway"}}]},
    ]  # fmt: skip
    provider = {
        "name": "anthropic",
        "type": "anthropic",
        "api_key": "sk-ant-right",
        "models": [{"id": MODEL, "context_window": 1000, "max_output_tokens": 300, **model}],
        "responses": responses,
    }
    return Scenario.model_validate({"seed": 2, "providers": [provider]})


@pytest.fixture
async def keyed() -> AsyncIterator[tuple[Simulator, anthropic.AsyncAnthropic]]:
    """A keyed simulator with scripted tool use, and a client holding the key."""
    async with start_simulator(_scenario()) as sim:
        base = sim.base_url("anthropic")
        async with anthropic.AsyncAnthropic(
            base_url=base, api_key="sk-ant-right", max_retries=0
        ) as client:
            yield sim, client


async def _post(
    sim: Simulator, body: Any, headers: dict[str, str] | None = None
) -> tuple[int, Any, Any]:
    default = {"anthropic-version": "2023-06-01"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.base_url('anthropic')}/v1/messages", json=body,
                  headers=default if headers is None else headers) as response,
    ):  # fmt: skip
        return response.status, response.headers, await response.json()


async def test_plain_message_parses(claude: anthropic.AsyncAnthropic):
    """The SDK parses a message with text content, usage and end_turn."""
    message = await claude.messages.create(model=MODEL, max_tokens=100, messages=USER)
    assert re.fullmatch(r"msg_01[1-9A-HJ-NP-Za-km-z]{22}", message.id)
    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    assert message.stop_reason == "end_turn"
    assert message.content[0].type == "text"
    assert message.content[0].text
    assert (message.usage.input_tokens, message.usage.output_tokens) == (7, 32)


async def test_success_headers(claude: anthropic.AsyncAnthropic):
    """Answers carry request-id and every anthropic-ratelimit-* family with RFC 3339 resets."""
    raw = await claude.messages.with_raw_response.create(model=MODEL, max_tokens=10, messages=USER)
    headers = raw.headers
    assert re.fullmatch(r"req_011C[1-9A-HJ-NP-Za-km-z]{20}", headers["request-id"])
    assert headers["anthropic-ratelimit-requests-limit"] == "10000"
    assert headers["anthropic-ratelimit-requests-remaining"] == "9999"
    for family in ("requests", "tokens", "input-tokens", "output-tokens"):
        reset = datetime.strptime(
            headers[f"anthropic-ratelimit-{family}-reset"], "%Y-%m-%dT%H:%M:%S%z"
        )
        assert abs(reset - datetime.now(UTC)) < timedelta(seconds=62)
    assert headers["anthropic-ratelimit-input-tokens-remaining"] == str(2_000_000 - 7)


async def test_raw_stream_event_order(claude: anthropic.AsyncAnthropic):
    """A raw stream goes message_start, block start, deltas, block stop, message_delta, stop."""
    stream = await claude.messages.create(model=MODEL, max_tokens=100, messages=USER, stream=True)
    events = [event async for event in stream]
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(kinds[2:-3]) == {"content_block_delta"}
    assert events[0].message.usage.input_tokens == 7
    assert events[-2].delta.stop_reason == "end_turn"
    assert events[-2].usage.output_tokens == 32


async def test_raw_stream_bytes_include_ping(sim: Simulator):
    """On the wire each event has an SSE event name, and a ping follows the first block start."""
    body = {"model": MODEL, "max_tokens": 5, "messages": USER, "stream": True}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{sim.base_url('anthropic')}/v1/messages", json=body,
                  headers={"anthropic-version": "2023-06-01"}) as response,
    ):  # fmt: skip
        text = await response.text()
    assert response.headers["content-type"].startswith("text/event-stream")
    names = re.findall(r"^event: (\w+)$", text, flags=re.MULTILINE)
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names.count("content_block_delta") == 5
    assert names[-1] == "message_stop"


async def test_stream_helper_final_message(claude: anthropic.AsyncAnthropic):
    """messages.stream() accumulates text deltas into the final message."""
    async with claude.messages.stream(model=MODEL, max_tokens=100, messages=USER) as stream:
        texts = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert final.content[0].text == "".join(texts)
    assert final.usage.output_tokens == 32
    assert final.stop_reason == "end_turn"


async def test_tool_use_plain(keyed: tuple[Simulator, anthropic.AsyncAnthropic]):
    """A scripted tool call is a tool_use block with a toolu_ id and stop_reason tool_use."""
    _, client = keyed
    ask = [{"role": "user", "content": "What is the weather?"}]
    message = await client.messages.create(model=MODEL, max_tokens=100, messages=ask)
    assert message.stop_reason == "tool_use"
    [block] = message.content
    assert block.type == "tool_use"
    assert re.fullmatch(r"toolu_01[1-9A-HJ-NP-Za-km-z]{22}", block.id)
    assert (block.name, block.input) == ("get_weather", {"city": "Paris", "unit": "celsius"})


async def test_tool_use_streamed(keyed: tuple[Simulator, anthropic.AsyncAnthropic]):
    """Streamed text plus input_json_delta fragments accumulate into text and tool_use blocks."""
    _, client = keyed
    ask = [{"role": "user", "content": "Explain it"}]
    async with client.messages.stream(model=MODEL, max_tokens=100, messages=ask) as stream:
        final = await stream.get_final_message()
    text, tool = final.content
    assert text.text == "Let me check."
    assert (tool.type, tool.name, tool.input) == ("tool_use", "lookup", {"q": "gateway"})
    assert final.stop_reason == "tool_use"


async def test_models_list(claude: anthropic.AsyncAnthropic):
    """GET /v1/models is Anthropic's paginated list of model objects."""
    models = [m async for m in claude.models.list()]
    assert [m.id for m in models] == ["claude-sonnet-4-5", "claude-haiku-4-5"]
    assert {m.type for m in models} == {"model"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": MODEL, "messages": USER}, "max_tokens: Field required"),
        ({"max_tokens": 5, "messages": USER}, "model: Field required"),
        ({"model": MODEL, "max_tokens": 5}, "messages: Field required"),
        ({"model": MODEL, "max_tokens": "5", "messages": USER},
         "max_tokens: Input should be a valid integer"),
        ({"model": MODEL, "max_tokens": 5, "messages": [{"role": "assistant", "content": "hi"}]},
         'messages: first message must use the "user" role'),
        ({"model": MODEL, "max_tokens": 5, "messages": [{"role": "tool", "content": "x"}]},
         "messages.0.role: Input should be 'user' or 'assistant'"),
    ],
)  # fmt: skip
async def test_strict_validation(sim: Simulator, body: dict[str, Any], message: str):
    """Requests the real API rejects get 400 invalid_request_error naming the field."""
    status, _, payload = await _post(sim, body)
    assert status == 400
    assert payload["type"] == "error"
    assert payload["error"] == {"type": "invalid_request_error", "message": message}
    assert payload["request_id"].startswith("req_011C")


async def test_system_role_message_is_rejected(claude: anthropic.AsyncAnthropic):
    """A "system" role message is a BadRequestError pointing at the top-level system field."""
    messages = [{"role": "system", "content": "Be brief."}, *USER]
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude.messages.create(model=MODEL, max_tokens=5, messages=messages)
    assert 'Unexpected role "system"' in caught.value.message
    assert caught.value.type == "invalid_request_error"


async def test_top_level_system_counts_as_prompt(claude: anthropic.AsyncAnthropic):
    """A top-level system prompt is accepted and counted into input_tokens."""
    message = await claude.messages.create(
        model=MODEL, max_tokens=5, system="x" * 40, messages=USER
    )
    assert message.usage.input_tokens == 7 + 10


async def test_missing_version_header(sim: Simulator):
    """Without anthropic-version the API answers 400 naming the header."""
    status, _, payload = await _post(sim, {"model": MODEL, "max_tokens": 5, "messages": USER}, {})
    assert status == 400
    assert payload["error"]["message"] == "anthropic-version: header is required"


async def test_missing_key(keyed: tuple[Simulator, anthropic.AsyncAnthropic]):
    """Without x-api-key a keyed provider answers 401 authentication_error."""
    sim, _ = keyed
    status, headers, payload = await _post(sim, {"model": MODEL, "max_tokens": 5, "messages": USER})
    assert status == 401
    assert payload["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }
    assert headers["x-should-retry"] == "false"


async def test_wrong_key():
    """A wrong x-api-key is an AuthenticationError with "invalid x-api-key"."""
    async with (
        start_simulator(_scenario()) as sim,
        anthropic.AsyncAnthropic(base_url=sim.base_url("anthropic"), api_key="nope",
                                 max_retries=0) as client,
    ):  # fmt: skip
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert caught.value.type == "authentication_error"
    assert caught.value.api_message == "invalid x-api-key"


async def test_prompt_too_long(keyed: tuple[Simulator, anthropic.AsyncAnthropic]):
    """A prompt over the context window is "prompt is too long: M tokens > N maximum"."""
    _, client = keyed
    long = [{"role": "user", "content": "x" * 5000}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model=MODEL, max_tokens=5, messages=long)
    assert caught.value.api_message == "prompt is too long: 1254 tokens > 1000 maximum"


async def test_input_plus_max_tokens_exceed(keyed: tuple[Simulator, anthropic.AsyncAnthropic]):
    """Prompt plus max_tokens over the window uses Anthropic's "exceed context limit" text."""
    _, client = keyed
    ask = [{"role": "user", "content": "x" * 3200}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(model=MODEL, max_tokens=300, messages=ask)
    assert caught.value.api_message == (
        "input length and `max_tokens` exceed context limit: 804 + 300 > 1000, "
        "decrease input length or `max_tokens` and try again"
    )


async def test_max_tokens_above_cap(keyed: tuple[Simulator, anthropic.AsyncAnthropic]):
    """max_tokens above the model's output cap is rejected with the model named."""
    _, client = keyed
    expected = "max_tokens: 301 > 300, which is the maximum allowed number of output tokens"
    with pytest.raises(anthropic.BadRequestError, match=f"{expected} for claude-haiku-4-5"):
        await client.messages.create(model=MODEL, max_tokens=301, messages=USER)


async def test_rate_limited(sim: Simulator, claude: anthropic.AsyncAnthropic):
    """An enqueued 429 is a RateLimitError with retry-after and zero remaining requests."""
    sim.enqueue("anthropic", status=429, retry_after=3)
    with pytest.raises(anthropic.RateLimitError) as caught:
        await claude.messages.create(model=MODEL, max_tokens=5, messages=USER)
    error = caught.value
    assert error.type == "rate_limit_error"
    assert error.response.headers["retry-after"] == "3"
    assert "anthropic-ratelimit-requests-reset" in error.response.headers
    assert error.request_id == error.response.headers["request-id"]


async def test_burst_429_reports_no_remaining_requests():
    """A scenario burst 429 advertises zero remaining requests and its retry_after_s."""
    scenario = _scenario(rate_limit={"every": 1, "burst": 1, "retry_after_s": 5})
    async with (
        start_simulator(scenario) as sim,
        anthropic.AsyncAnthropic(base_url=sim.base_url("anthropic"), api_key="sk-ant-right",
                                 max_retries=0) as client,
    ):  # fmt: skip
        await client.messages.create(model=MODEL, max_tokens=5, messages=USER)
        with pytest.raises(anthropic.RateLimitError) as caught:
            await client.messages.create(model=MODEL, max_tokens=5, messages=USER)
    headers = caught.value.response.headers
    assert (headers["retry-after"], headers["anthropic-ratelimit-requests-remaining"]) == ("5", "0")


async def test_internal_server_error(sim: Simulator, claude: anthropic.AsyncAnthropic):
    """An enqueued 500 is an InternalServerError of type api_error."""
    sim.enqueue("anthropic", status=500)
    with pytest.raises(anthropic.InternalServerError) as caught:
        await claude.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert (caught.value.status_code, caught.value.type) == (500, "api_error")
    assert caught.value.api_message == "Internal server error"


async def test_overloaded_529(sim: Simulator, claude: anthropic.AsyncAnthropic):
    """An enqueued 529 is the SDK's OverloadedError with type overloaded_error."""
    sim.enqueue("anthropic", status=529)
    with pytest.raises(anthropic.OverloadedError) as caught:
        await claude.messages.create(model=MODEL, max_tokens=5, messages=USER)
    assert (caught.value.type, caught.value.api_message) == ("overloaded_error", "Overloaded")
    assert caught.value.response.headers["x-should-retry"] == "true"


async def test_unknown_model(claude: anthropic.AsyncAnthropic):
    """An unserved model is a NotFoundError "model: <name>"."""
    with pytest.raises(anthropic.NotFoundError) as caught:
        await claude.messages.create(model="claude-9", max_tokens=5, messages=USER)
    assert caught.value.api_message == "model: claude-9"


async def _count_529s(seed: int) -> Counter[int]:
    scenario = _scenario(error_rate={529: 0.1, 500: 0.05})
    scenario = scenario.model_copy(update={"seed": seed})
    statuses: Counter[int] = Counter()
    headers = {"anthropic-version": "2023-06-01", "x-api-key": "sk-ant-right"}
    async with start_simulator(scenario) as sim, aiohttp.ClientSession(headers=headers) as http:
        url = f"{sim.base_url('anthropic')}/v1/messages"
        for _ in range(200):
            body = {"model": MODEL, "max_tokens": 5, "messages": USER}
            async with http.post(url, json=body) as response:
                await response.read()
                statuses[response.status] += 1
    return statuses


async def test_injected_529_counts_are_reproducible():
    """Over 200 HTTP requests a seeded 529/500 error_rate gives identical counts each run."""
    first, second = await _count_529s(11), await _count_529s(11)
    assert first == second
    assert 8 <= first[529] <= 35
    assert first[500] > 0
    assert first[200] == 200 - first[529] - first[500]
