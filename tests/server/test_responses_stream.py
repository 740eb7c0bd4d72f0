"""Streamed /v1/responses through the official SDK's stream helpers, from both provider formats."""

from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from .test_consumer_openai import force_first

PROVIDERS = pytest.mark.parametrize(("model", "provider"), [("big-oa", "oa"), ("claude-x", "an")])
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def squeezed(types: list[str]) -> list[str]:
    """Event types with runs of the same type collapsed to one."""
    return [t for i, t in enumerate(types) if i == 0 or types[i - 1] != t]


@PROVIDERS
async def test_stream_helper_assembles_the_provider_text(stack, oai, model, provider):
    """responses.stream's deltas and final response hold exactly the text the provider sent."""
    answer = "Streamed from the provider, in several pieces."
    stack.sim.enqueue(provider, reply=answer)
    deltas: list[str] = []
    async with oai.responses.stream(model=model, input="hi") as stream:
        async for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)  # noqa: PERF401 - an async for
        final = await stream.get_final_response()
    assert "".join(deltas) == answer
    assert len(deltas) > 1
    assert final.output_text == answer
    assert final.status == "completed"
    assert final.model == model
    assert final.usage.output_tokens > 0


async def test_raw_events_are_in_order_and_numbered(stack, oai):
    """create(stream=True) yields OpenAI's event sequence with consecutive sequence numbers."""
    stack.sim.enqueue("oa", reply="one two three")
    stream = await oai.responses.create(model="big-oa", input="hi", stream=True)
    events = [event async for event in stream]
    assert squeezed([e.type for e in events]) == TEXT_EVENTS
    assert [e.sequence_number for e in events] == list(range(len(events)))
    created, completed = events[0].response, events[-1].response
    assert created.id == completed.id
    assert created.status == "in_progress"
    assert completed.output[0].content[0].text == "one two three"


@PROVIDERS
async def test_streamed_function_call_arguments(stack, oai, model, provider):
    """Argument deltas assemble to the provider's arguments; the call item is complete."""
    arguments = {"city": "Paris"}
    stack.sim.enqueue(provider, tool_calls=[{"name": "get_weather", "arguments": arguments}])
    deltas: list[str] = []
    async with oai.responses.stream(model=model, input="weather?", tools=[WEATHER]) as stream:
        async for event in stream:
            if event.type == "response.function_call_arguments.delta":
                deltas.append(event.delta)
            if event.type == "response.function_call_arguments.done":
                done = event.arguments
        final = await stream.get_final_response()
    assert json.loads("".join(deltas)) == arguments
    assert done == "".join(deltas)
    [call] = [item for item in final.output if item.type == "function_call"]
    assert (call.name, call.arguments, call.status) == ("get_weather", done, "completed")


class Weather(BaseModel):
    """The structured answer the streamed parse asks for."""

    city: str


async def test_stream_parses_into_a_pydantic_model(stack, oai):
    """The stream helper with text_format parses the streamed JSON into the model."""
    stack.sim.enqueue("an", reply='{"city": "Paris"}')
    async with oai.responses.stream(model="claude-x", input="?", text_format=Weather) as stream:
        final = await stream.get_final_response()
    assert final.output_parsed == Weather(city="Paris")


async def test_length_ends_with_response_incomplete(stack, oai):
    """A stream cut by the token limit ends with response.incomplete and its reason."""
    stack.sim.enqueue("oa", reply="cut", finish_reason="length")
    stream = await oai.responses.create(model="big-oa", input="hi", stream=True)
    events = [event async for event in stream]
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.incomplete_details.reason == "max_output_tokens"


@PROVIDERS
async def test_failure_mid_stream_ends_with_response_failed(stack, oai, model, provider):
    """An upstream failure after the first event ends the stream with response.failed."""
    stack.sim.enqueue(provider, fail_after_events=2, error_type="overloaded_error")
    stream = await oai.responses.create(model=model, input="hi", stream=True)
    events = [event async for event in stream]
    assert events[0].type == "response.created"
    failed = events[-1]
    assert failed.type == "response.failed"
    assert failed.response.id == events[0].response.id
    assert failed.response.status == "failed"
    assert failed.response.error.message
    assert [e.sequence_number for e in events] == list(range(len(events)))


async def test_stream_carries_warnings_header(stack, oai):
    """Fields not carried are named in the stream's X-Tokenhub-Warnings header."""
    raw = await oai.responses.with_raw_response.create(
        model="big-oa", input="hi", stream=True, truncation="auto"
    )
    assert "truncation" in raw.headers["x-tokenhub-warnings"]
    events = [event async for event in raw.parse()]
    assert events[-1].type == "response.completed"


async def test_stream_before_first_event_fails_over(stack, oai):
    """A stream whose first model fails before any event is served by another model."""
    force_first(stack, "big-oa")
    stack.sim.enqueue("oa", model="big-oa", status=500)
    async with oai.responses.stream(
        model="auto", input="hi", extra_body={"tokenhub": {"min_weight": 7}}
    ) as stream:
        final = await stream.get_final_response()
    assert final.status == "completed"
    assert final.model == "claude-x"


async def test_stream_error_before_start_is_an_openai_error(stack, oai):
    """A request refused before streaming gets OpenAI's error object, not a stream."""
    with pytest.raises(openai.BadRequestError):
        await oai.responses.create(
            model="big-oa", input="hi", stream=True, tools=[{"type": "code_interpreter"}]
        )
