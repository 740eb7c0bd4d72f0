"""/v1/responses through the official openai SDK: create, parse, tools, errors, warnings."""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from tokenhub.sim import count_tokens

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def last_sent(stack, provider: str) -> dict:
    """The body of the last request ``provider`` received from tokenhub."""
    return stack.sim.received_by(provider)[-1].body


@pytest.mark.parametrize(("model", "provider"), [("big-oa", "oa"), ("claude-x", "an")])
async def test_create_answers_with_a_response_object(stack, oai, model, provider):
    """A string input is answered with the provider's text as a completed response."""
    answer = "Hello from the provider."
    stack.sim.enqueue(provider, reply=answer)
    raw = await oai.responses.with_raw_response.create(model=model, input="hi")
    response = raw.parse()
    assert response.object == "response"
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.model == model
    assert response.output_text == answer
    [item] = response.output
    assert item.type == "message"
    assert item.content[0].annotations == []
    assert response.usage.output_tokens == count_tokens(answer)
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0
    assert raw.headers["x-tokenhub-model"] == model
    assert raw.headers["x-tokenhub-provider"] == provider
    assert "x-tokenhub-warnings" not in raw.headers


async def test_input_items_become_the_conversation(stack, oai):
    """Instructions, developer, user and assistant items reach an Anthropic provider in order."""
    await oai.responses.create(
        model="claude-x",
        instructions="Be brief.",
        input=[
            {"role": "developer", "content": "Answer in French."},
            {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "salut", "annotations": []}],
            },
            {"role": "user", "content": "again"},
        ],
        max_output_tokens=64,
        temperature=0.5,
    )
    sent = last_sent(stack, "an")
    system = sent["system"]
    system_text = system if isinstance(system, str) else " ".join(b["text"] for b in system)
    assert "Be brief." in system_text
    assert "Answer in French." in system_text
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["max_tokens"] == 64
    assert sent["temperature"] == 0.5


async def test_options_reach_an_openai_provider(stack, oai):
    """reasoning.effort, parallel_tool_calls, user and max_output_tokens are carried."""
    await oai.responses.create(
        model="big-oa",
        input="hi",
        tools=[WEATHER],
        tool_choice={"type": "function", "name": "get_weather"},
        parallel_tool_calls=False,
        reasoning={"effort": "low"},
        max_output_tokens=100,
        user="u-1",
        metadata={"team": "docs"},
    )
    sent = last_sent(stack, "oa")
    assert sent["reasoning_effort"] == "low"
    assert sent["parallel_tool_calls"] is False
    assert sent["user"] == "u-1"
    assert sent["max_completion_tokens"] == 100
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert "metadata" not in sent  # the client's own bookkeeping, echoed back instead


async def test_response_repeats_the_request_parameters(stack, oai):
    """The response object echoes instructions, metadata, tools and the text format."""
    response = await oai.responses.create(
        model="big-oa", input="hi", instructions="Be brief.", metadata={"team": "docs"}
    )
    assert response.instructions == "Be brief."
    assert response.metadata == {"team": "docs"}
    assert response.tools == []
    assert response.text.format.type == "text"
    assert response.store is True


class Weather(BaseModel):
    """The structured answer the parse test asks for."""

    city: str
    celsius: int


@pytest.mark.parametrize(("model", "provider"), [("big-oa", "oa"), ("claude-x", "an")])
async def test_parse_with_a_pydantic_model(stack, oai, model, provider):
    """responses.parse sends the model's JSON schema and parses the answer into it."""
    stack.sim.enqueue(provider, reply='{"city": "Paris", "celsius": 21}')
    response = await oai.responses.parse(model=model, input="weather?", text_format=Weather)
    assert response.output_parsed == Weather(city="Paris", celsius=21)
    sent = last_sent(stack, provider)
    if provider == "oa":
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["name"] == "Weather"
    else:
        assert sent["output_config"]["format"]["type"] == "json_schema"


@pytest.mark.parametrize(("model", "provider"), [("big-oa", "oa"), ("claude-x", "an")])
async def test_function_calling_over_two_turns(stack, oai, model, provider):
    """A function call comes back as an item; resending it with its output continues the turn."""
    stack.sim.enqueue(
        provider, tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]
    )
    first = await oai.responses.create(model=model, input="weather in Paris?", tools=[WEATHER])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.id.startswith("fc_")
    stack.sim.enqueue(provider, reply="It is 21 degrees.")
    second = await oai.responses.create(
        model=model,
        tools=[WEATHER],
        input=[
            {"role": "user", "content": "weather in Paris?"},
            *[item.model_dump(exclude_none=True) for item in first.output],
            {"type": "function_call_output", "call_id": call.call_id, "output": "21C"},
        ],
    )
    assert second.output_text == "It is 21 degrees."
    sent = last_sent(stack, provider)
    if provider == "oa":
        assert sent["messages"][1]["tool_calls"][0]["id"] == call.call_id
        assert sent["messages"][2] == {
            "role": "tool",
            "tool_call_id": call.call_id,
            "content": "21C",
        }
    else:
        result = sent["messages"][2]["content"][0]
        assert (result["type"], result["tool_use_id"]) == ("tool_result", call.call_id)


async def test_max_output_tokens_makes_the_response_incomplete(stack, oai):
    """An answer cut by the token limit is status incomplete, reason max_output_tokens."""
    stack.sim.enqueue("oa", reply="cut short", finish_reason="length")
    response = await oai.responses.create(model="big-oa", input="hi", max_output_tokens=16)
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].status == "incomplete"


async def test_builtin_tool_is_refused_naming_it(stack, oai):
    """A built-in tool no provider serves is a 400 in OpenAI's format naming the tool."""
    with pytest.raises(openai.BadRequestError) as info:
        await oai.responses.create(model="big-oa", input="hi", tools=[{"type": "web_search"}])
    assert info.value.body["param"] == "tools[0].type"
    assert "'web_search'" in info.value.body["message"]
    assert stack.sim.received_by("oa") == []


async def test_previous_response_id_is_not_found(stack, oai):
    """previous_response_id names no stored response: 404 in OpenAI's format, never ignored."""
    with pytest.raises(openai.NotFoundError) as info:
        await oai.responses.create(model="big-oa", input="hi", previous_response_id="resp_x")
    assert "resp_x" in info.value.body["message"]
    assert stack.sim.received_by("oa") == []


async def test_fields_not_carried_are_warned(stack, oai):
    """Accepted fields no upstream carries are listed in X-Tokenhub-Warnings and the body."""
    raw = await oai.responses.with_raw_response.create(
        model="big-oa",
        input="hi",
        include=["message.output_text.logprobs"],
        truncation="auto",
        text={"verbosity": "low"},
    )
    warnings = raw.headers["x-tokenhub-warnings"]
    assert "include[0]" in warnings
    assert "truncation" in warnings
    assert "text.verbosity" in warnings
    assert json.loads(raw.text)["tokenhub"]["warnings"]


async def test_strict_refuses_fields_not_carried(stack, oai):
    """Strict field handling refuses, rather than drops, a field no upstream carries."""
    with pytest.raises(openai.BadRequestError) as info:
        await oai.responses.create(
            model="big-oa",
            input="hi",
            truncation="auto",
            extra_headers={"X-Tokenhub-Strict": "true"},
        )
    assert info.value.body["type"] == "untranslatable_field"
    assert info.value.body["param"] == "truncation"
    assert stack.sim.received_by("oa") == []


async def test_policy_field_routes(stack, oai):
    """The tokenhub body field steers routing, as on chat completions."""
    response = await oai.responses.create(
        model="auto", input="hi", extra_body={"tokenhub": {"min_weight": 9}}
    )
    assert response.model == "claude-x"


async def test_input_tokens_is_the_routing_estimate(stack, oai):
    """responses.input_tokens.count answers with the estimate routing uses; no provider call."""
    counted = await oai.responses.input_tokens.count(model="big-oa", input="hello there")
    assert counted.object == "response.input_tokens"
    assert counted.input_tokens > 0
    assert stack.sim.received_by("oa") == []


async def test_requests_are_logged_under_their_endpoint(stack, oai):
    """Answered and refused Responses requests reach the request log like chat requests."""
    await oai.responses.create(model="claude-x", input="hi")
    with pytest.raises(openai.BadRequestError):
        await oai.responses.create(model="big-oa", input="hi", tools=[{"type": "mcp"}])
    async with stack.admin.get("/admin/v1/requests?endpoint=/v1/responses") as response:
        rows = (await response.json())["data"]
    assert [(r["status"], r["model"], r["http_status"]) for r in rows] == [
        ("error", None, 400),
        ("ok", "claude-x", 200),
    ]
