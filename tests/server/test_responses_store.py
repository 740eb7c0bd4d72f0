"""Stored responses via the official SDK: retrieve, delete, input items, previous_response_id."""

from __future__ import annotations

import json

import openai
import pytest

from tokenhub.server.app_keys import WRITER
from tokenhub.testing.stack import gateway_stack

from . import routing_stack
from .test_api_keys import REQUIRED, client, create_key

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
SLOW_WRITER = {"writer": {"flush_interval_s": 60}}
"""Rows wait in the writer's queue: only a flush on a missed read can find them."""


def text_of(content) -> str:
    """The text of an Anthropic message's content, a string or text blocks."""
    return content if isinstance(content, str) else "".join(b["text"] for b in content)


@pytest.fixture
async def slow(tokenhub_home):
    """The routing stack whose writer flushes only once a minute."""
    async with gateway_stack(
        routing_stack.scenario(), routing_stack.registry, settings=SLOW_WRITER
    ) as stack:
        yield stack


@pytest.fixture
async def slow_oai(slow):
    """An OpenAI client for the slow-writer stack."""
    async with openai.AsyncOpenAI(
        base_url=f"{slow.url}/v1", api_key="unused", max_retries=0
    ) as api:
        yield api


async def test_retrieve_right_after_create(slow, slow_oai):
    """A response is retrievable the instant it is answered, though its row is still queued."""
    created = await slow_oai.responses.create(model="big-oa", input="hi")
    assert slow.app[WRITER].queued > 0
    fetched = await slow_oai.responses.retrieve(created.id)
    assert fetched.id == created.id
    assert fetched.output_text == created.output_text
    assert fetched.usage.total_tokens == created.usage.total_tokens


async def test_chain_continues_across_two_providers(slow, slow_oai):
    """previous_response_id rebuilds the conversation for a different provider's model."""
    slow.sim.enqueue("oa", reply="Paris is in France.")
    first = await slow_oai.responses.create(
        model="big-oa", input="Where is Paris?", instructions="Be brief."
    )
    second = await slow_oai.responses.create(
        model="claude-x", input="And Lyon?", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    sent = slow.sim.received_by("an")[-1].body
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert text_of(sent["messages"][1]["content"]) == "Paris is in France."
    assert "system" not in sent  # instructions are not carried over, as at OpenAI


async def test_streamed_answer_is_found_by_the_next_turn(slow, slow_oai):
    """A follow-up sent the instant a stream completes continues it (read after write)."""
    slow.sim.enqueue("an", reply="Streamed first turn.")
    async with slow_oai.responses.stream(model="claude-x", input="hi") as stream:
        first = await stream.get_final_response()
    second = await slow_oai.responses.create(
        model="big-oa", input="more", previous_response_id=first.id
    )
    assert second.status == "completed"
    sent = slow.sim.received_by("oa")[-1].body
    assert sent["messages"][1] == {"role": "assistant", "content": "Streamed first turn."}


@pytest.mark.parametrize(("model", "provider"), [("big-oa", "oa"), ("claude-x", "an")])
async def test_function_calling_with_previous_response_id(stack, oai, model, provider):
    """The second turn sends only the call's output; the stored chain supplies the call."""
    stack.sim.enqueue(provider, tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}])
    first = await oai.responses.create(model=model, input="weather in Oslo?", tools=[WEATHER])
    [call] = [item for item in first.output if item.type == "function_call"]
    stack.sim.enqueue(provider, reply="Cold.")
    second = await oai.responses.create(
        model=model,
        tools=[WEATHER],
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "-5C"}],
    )
    assert second.output_text == "Cold."
    sent = stack.sim.received_by(provider)[-1].body
    assert len(sent["messages"]) == 3
    assert json.dumps(sent["messages"]).count(call.call_id) == 2  # the call and its result


async def test_store_false_keeps_nothing(stack, oai):
    """store: false answers as usual but cannot be retrieved or continued."""
    response = await oai.responses.create(model="big-oa", input="hi", store=False)
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        await oai.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as info:
        await oai.responses.create(model="big-oa", input="x", previous_response_id=response.id)
    assert info.value.body["param"] is None
    assert response.id in info.value.body["message"]


async def test_delete(stack, oai):
    """A deleted response is gone for retrieve and for previous_response_id."""
    response = await oai.responses.create(model="big-oa", input="hi")
    await oai.responses.delete(response.id)
    with pytest.raises(openai.NotFoundError):
        await oai.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError):
        await oai.responses.delete(response.id)


async def test_input_items_pages(stack, oai):
    """input_items lists the request's own items, newest first, in cursor pages."""
    response = await oai.responses.create(
        model="big-oa",
        input=[
            {"role": "developer", "content": "rules"},
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "input_text", "text": "two"}]},
        ],
    )
    page = await oai.responses.input_items.list(response.id, limit=2)
    assert len(page.data) == 2
    assert page.has_more
    items = [item async for item in oai.responses.input_items.list(response.id, limit=2)]
    assert [item.content[0].text for item in items] == ["two", "one", "rules"]
    assert len({item.id for item in items}) == 3
    ascending = await oai.responses.input_items.list(response.id, order="asc")
    assert [item.role for item in ascending.data] == ["developer", "user", "user"]


async def test_another_key_cannot_read_a_stored_response(tokenhub_home):
    """A response is scoped to the key that created it: another key gets 404 everywhere."""
    async with gateway_stack(
        routing_stack.scenario(), routing_stack.registry, settings=REQUIRED
    ) as keyed:
        owner, other = await create_key(keyed, "owner"), await create_key(keyed, "other")
        async with client(keyed, owner["key"]) as mine, client(keyed, other["key"]) as theirs:
            response = await mine.responses.create(model="big-oa", input="secret plans")
            assert (await mine.responses.retrieve(response.id)).id == response.id
            with pytest.raises(openai.NotFoundError):
                await theirs.responses.retrieve(response.id)
            with pytest.raises(openai.NotFoundError):
                await theirs.responses.input_items.list(response.id)
            with pytest.raises(openai.NotFoundError):
                await theirs.responses.delete(response.id)
            with pytest.raises(openai.NotFoundError):
                await theirs.responses.create(
                    model="big-oa", input="x", previous_response_id=response.id
                )
            assert (await mine.responses.retrieve(response.id)).id == response.id
