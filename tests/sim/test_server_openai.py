from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest

from tokenhub.sim import (
    ModelSpec,
    ProviderSpec,
    Scenario,
    Simulator,
    count_tokens,
    start_simulator,
)

USER = [{"role": "user", "content": "hello there"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _scenario(**model: object) -> Scenario:
    responses = [
        {"match": {"prompt": "(?i)weather"}, "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
            {"name": "get_time", "arguments": {"tz": "Europe/Paris"}},
        ]},
        {"match": {"prompt": "^ping$"}, "reply": "pong"},
    ]  # fmt: skip
    provider = {
        "name": "openai",
        "type": "openai",
        "api_key": "sk-right",
        "models": [{"id": "gpt-4o", "context_window": 1000, "max_output_tokens": 200, **model}],
        "responses": responses,
    }
    return Scenario.model_validate({"seed": 1, "providers": [provider]})


@pytest.fixture
async def keyed() -> AsyncIterator[tuple[Simulator, openai.AsyncOpenAI]]:
    """A simulator with an API key and scripted responses, and a client holding the key."""
    async with start_simulator(_scenario()) as sim:
        base = sim.base_url("openai")
        async with openai.AsyncOpenAI(base_url=base, api_key="sk-right", max_retries=0) as client:
            yield sim, client


async def test_plain_completion_parses(oai: openai.AsyncOpenAI):
    """The SDK parses a plain completion with usage from the heuristic token counts."""
    completion = await oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", completion.id)
    assert completion.object == "chat.completion"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 3 + 4  # ceil(11 / 4) + per-message overhead
    assert completion.usage.completion_tokens == 32
    assert completion.usage.total_tokens == 39
    assert abs(completion.created - time.time()) < 60


async def test_success_carries_request_id_and_rate_limit_headers(oai: openai.AsyncOpenAI):
    """Successful answers carry x-request-id and the x-ratelimit-* headers like the real API."""
    raw = await oai.chat.completions.with_raw_response.create(model="gpt-4o", messages=USER)
    headers = raw.headers
    assert re.fullmatch(r"req_[0-9a-f]{32}", headers["x-request-id"])
    assert headers["x-ratelimit-limit-requests"] == "10000"
    assert headers["x-ratelimit-remaining-requests"] == "9999"
    assert headers["x-ratelimit-limit-tokens"] == "2000000"
    assert int(headers["x-ratelimit-remaining-tokens"]) == 2_000_000 - 7
    assert re.fullmatch(r"\d+(\.\d+)?s|\d+m\d+(\.\d+)?s", headers["x-ratelimit-reset-requests"])
    assert raw.parse().choices[0].message.content


async def test_stream_with_usage_chunk(sim: Simulator, oai: openai.AsyncOpenAI):
    """Streaming yields chunks, then a usage chunk with no choices, then ends at [DONE]."""
    sim.enqueue("openai", reply="Chunk by chunk.")
    stream = await oai.chat.completions.create(
        model="gpt-4o", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Chunk by chunk."
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count_tokens("Chunk by chunk.")


async def test_stream_without_usage_has_no_usage_chunk(oai: openai.AsyncOpenAI):
    """Without stream_options the last chunk is the finish chunk."""
    stream = await oai.chat.completions.create(model="gpt-4o", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)


async def test_tool_calls_plain(keyed: tuple[Simulator, openai.AsyncOpenAI]):
    """A scripted tool-call reply parses into tool_calls with call_ ids and JSON arguments."""
    _, client = keyed
    ask = [{"role": "user", "content": "What's the weather in Paris?"}]
    completion = await client.chat.completions.create(
        model="gpt-4o", messages=ask, tools=[WEATHER_TOOL]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "unit": "celsius"}
    assert all(re.fullmatch(r"call_[A-Za-z0-9]{24}", c.id) for c in calls)


async def test_tool_calls_streamed_are_accumulated(keyed: tuple[Simulator, openai.AsyncOpenAI]):
    """The SDK's stream helper reassembles streamed tool_calls deltas into whole calls."""
    _, client = keyed
    ask = [{"role": "user", "content": "weather please"}]
    async with client.chat.completions.stream(
        model="gpt-4o",
        messages=ask,
        tools=[WEATHER_TOOL],
    ) as stream:
        final = await stream.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert json.loads(calls[1].function.arguments) == {"tz": "Europe/Paris"}
    assert final.choices[0].finish_reason == "tool_calls"


async def test_streamed_tool_call_deltas_follow_the_wire_format(
    keyed: tuple[Simulator, openai.AsyncOpenAI],
):
    """The first delta of a call has index, id, type and name; later ones only fragments."""
    _, client = keyed
    stream = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "weather"}], stream=True
    )
    deltas = [
        c.choices[0].delta.tool_calls[0]
        async for c in stream
        if c.choices and c.choices[0].delta.tool_calls
    ]
    first = deltas[0]
    assert (first.index, first.type, first.function.name, first.function.arguments) == (
        0, "function", "get_weather", "",
    )  # fmt: skip
    assert first.id is not None
    fragments = [d for d in deltas[1:] if d.index == 0]
    assert all(d.id is None and d.function.name is None for d in fragments)
    assert "".join(d.function.arguments for d in fragments) == '{"city":"Paris","unit":"celsius"}'


async def test_scripted_reply_by_prompt(keyed: tuple[Simulator, openai.AsyncOpenAI]):
    """A request whose last user message matches a rule gets the scripted text."""
    _, client = keyed
    completion = await client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "ping"}]
    )
    assert completion.choices[0].message.content == "pong"
    assert completion.usage.completion_tokens == 1


async def test_max_tokens_truncates(oai: openai.AsyncOpenAI):
    """max_tokens below the reply length cuts it with finish_reason length."""
    completion = await oai.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=5)
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 5


async def test_models_list(oai: openai.AsyncOpenAI):
    """GET /v1/models is a list of model objects the SDK pages through."""
    models = [m async for m in oai.models.list()]
    assert [m.id for m in models] == ["gpt-4o-mini", "gpt-4o"]
    assert {m.object for m in models} == {"model"}


async def test_context_length_exceeded(keyed: tuple[Simulator, openai.AsyncOpenAI]):
    """A prompt over the context window is OpenAI's 400 context_length_exceeded."""
    _, client = keyed
    long = [{"role": "user", "content": "x" * 5000}]
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="gpt-4o", messages=long)
    error = caught.value
    assert error.code == "context_length_exceeded"
    assert error.param == "messages"
    expected = "maximum context length is 1000 tokens. However, your messages resulted in 1254"
    assert f"This model's {expected} tokens." in error.message


async def test_context_with_max_tokens(keyed: tuple[Simulator, openai.AsyncOpenAI]):
    """Prompt plus max_tokens over the window uses the 'you requested' wording."""
    _, client = keyed
    ask = [{"role": "user", "content": "x" * 3200}]
    with pytest.raises(openai.BadRequestError, match=r"you requested 1004 tokens \(804 in the "
                       r"messages, 200 in the completion\)") as caught:  # fmt: skip
        await client.chat.completions.create(model="gpt-4o", messages=ask, max_tokens=200)
    assert caught.value.code == "context_length_exceeded"


async def test_max_tokens_above_model_cap(keyed: tuple[Simulator, openai.AsyncOpenAI]):
    """max_tokens above max_output_tokens is rejected naming max_tokens."""
    _, client = keyed
    with pytest.raises(openai.BadRequestError, match="max_tokens is too large: 500") as caught:
        await client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=500)
    assert caught.value.param == "max_tokens"


async def test_wrong_key_is_invalid_api_key():
    """A wrong bearer key is an AuthenticationError with code invalid_api_key."""
    async with (
        start_simulator(_scenario()) as sim,
        openai.AsyncOpenAI(base_url=sim.base_url("openai"), api_key="sk-wrong-key",
                           max_retries=0) as client,
    ):  # fmt: skip
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value.code == "invalid_api_key"
    assert "Incorrect API key provided: sk-*****-key" in caught.value.message


async def test_missing_key_is_401(keyed: tuple[Simulator, openai.AsyncOpenAI]):
    """A request without Authorization gets OpenAI's 401 body."""
    sim, _ = keyed
    async with aiohttp.ClientSession() as http:
        url = f"{sim.base_url('openai')}/chat/completions"
        async with http.post(url, json={"model": "gpt-4o", "messages": USER}) as response:
            body = await response.json()
    assert response.status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith("You didn't provide an API key.")


async def test_rate_limited_with_headers(sim: Simulator, oai: openai.AsyncOpenAI):
    """An enqueued 429 is a RateLimitError with retry-after and x-ratelimit-* headers."""
    sim.enqueue("openai", status=429, retry_after=7)
    with pytest.raises(openai.RateLimitError) as caught:
        await oai.chat.completions.create(model="gpt-4o", messages=USER)
    error = caught.value
    assert error.code == "rate_limit_exceeded"
    assert error.type == "requests"
    assert error.response.headers["retry-after"] == "7"
    assert error.response.headers["x-ratelimit-remaining-requests"] == "9999"
    assert "Please try again in 7s" in error.message
    assert re.fullmatch(r"req_[0-9a-f]{32}", error.request_id or "")


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors(sim: Simulator, oai: openai.AsyncOpenAI, status: int):
    """Enqueued 500 and 503 are InternalServerErrors with type server_error."""
    sim.enqueue("openai", status=status)
    with pytest.raises(openai.InternalServerError) as caught:
        await oai.chat.completions.create(model="gpt-4o", messages=USER)
    assert caught.value.status_code == status
    assert caught.value.type == "server_error"


async def test_unknown_model_is_404(oai: openai.AsyncOpenAI):
    """An unserved model is a NotFoundError with code model_not_found."""
    with pytest.raises(openai.NotFoundError) as caught:
        await oai.chat.completions.create(model="gpt-9", messages=USER)
    assert caught.value.code == "model_not_found"
    assert "The model `gpt-9` does not exist" in caught.value.message


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"model": "gpt-4o"}, "missing_required_parameter", "messages"),
        ({"messages": USER}, "missing_required_parameter", "model"),
        ({"model": "gpt-4o", "messages": []}, "empty_array", "messages"),
        ({"model": "gpt-4o", "messages": [{"content": "x"}]}, "missing_required_parameter",
         "messages[0].role"),
        ({"model": "gpt-4o", "messages": [{"role": "robot", "content": "x"}]}, "invalid_value",
         "messages[0].role"),
        ({"model": 3, "messages": USER}, "invalid_type", "model"),
        ({"model": "gpt-4o", "messages": USER, "max_tokens": 0}, "integer_below_min_value",
         "max_tokens"),
        ({"model": "gpt-4o", "messages": USER, "stream_options": {"include_usage": True}},
         "invalid_value", "stream_options"),
    ],
)  # fmt: skip
async def test_request_validation(sim: Simulator, body: dict[str, object], code: str, param: str):
    """Malformed requests get 400 invalid_request_error naming the param and code."""
    async with aiohttp.ClientSession() as http:
        url = f"{sim.base_url('openai')}/chat/completions"
        async with http.post(url, json=body) as response:
            error = (await response.json())["error"]
    assert response.status == 400
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)


async def test_invalid_json_is_400(sim: Simulator):
    """A body that is not JSON gets a 400 invalid_request_error."""
    async with aiohttp.ClientSession() as http:
        url = f"{sim.base_url('openai')}/chat/completions"
        async with http.post(url, data=b"{nope", headers={"content-type": "application/json"}) as r:
            error = (await r.json())["error"]
    assert r.status == 400
    assert error["message"].startswith("We could not parse the JSON body")


async def test_paced_stream_takes_ttft_plus_token_time():
    """With ttft_ms and tokens_per_second a stream is paced: first token late, rest spaced."""
    scenario = Scenario(
        providers=(ProviderSpec(name="openai", type="openai", models=(
            ModelSpec(id="m", ttft_ms=100, tokens_per_second=100, output_tokens=10),)),)
    )  # fmt: skip
    async with (
        start_simulator(scenario) as sim,
        openai.AsyncOpenAI(base_url=sim.base_url("openai"), api_key="k", max_retries=0) as client,
    ):
        started = time.monotonic()
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        arrivals = [
            time.monotonic() - started
            async for c in stream
            if c.choices and c.choices[0].delta.content
        ]
    assert arrivals[0] >= 0.09
    assert arrivals[-1] - arrivals[0] >= 0.08
    assert len(arrivals) == 10
