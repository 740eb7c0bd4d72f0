"""/v1/models and /v1/models/{id} as the official OpenAI and Anthropic SDKs read them."""

from __future__ import annotations

import anthropic
import openai
import pytest

MODELS = {"small-oa", "small-ob", "big-oa", "claude-x"}


async def test_openai_sdk_lists_and_retrieves(stack, oai):
    """OpenAI's list: models owned by their provider, routing targets by tokenhub."""
    listed = {m.id: m for m in (await oai.models.list()).data}
    assert listed.keys() >= MODELS
    assert listed["claude-x"].owned_by == "an"
    assert listed["auto"].owned_by == "tokenhub"
    one = await oai.models.retrieve("big-oa")
    assert (one.id, one.object, one.owned_by) == ("big-oa", "model", "oa")
    with pytest.raises(openai.NotFoundError) as info:
        await oai.models.retrieve("gpt-9")
    assert info.value.body["type"] == "model_not_found"  # OpenAI's error object


async def test_anthropic_sdk_lists_every_page_and_retrieves(stack, claude):
    """Anthropic's format and cursor pages: the SDK's auto-paging sees every entry once."""
    first = await claude.models.list(limit=2)
    assert len(first.data) == 2
    assert first.has_more
    assert first.data[0].type == "model"
    assert first.data[0].created_at.year >= 2024
    every = [m.id async for m in await claude.models.list(limit=2)]
    assert len(every) == len(set(every))
    assert MODELS | {"auto"} <= set(every)
    one = await claude.models.retrieve("claude-x")
    assert (one.id, one.type, one.display_name) == ("claude-x", "model", "claude-x (an)")
    with pytest.raises(anthropic.NotFoundError) as info:
        await claude.models.retrieve("claude-9")
    assert info.value.body["error"]["type"] == "model_not_found"  # Anthropic's error object


async def test_anthropic_pages_backwards_and_rejects_bad_limits(stack, claude):
    """before_id pages backwards; a limit outside 1..1000 is a 400 naming it."""
    every = [m.id async for m in await claude.models.list(limit=1000)]
    page = await claude.models.list(before_id=every[3], limit=2)
    assert [m.id for m in page.data] == every[1:3]
    assert page.has_more
    with pytest.raises(anthropic.BadRequestError) as info:
        await claude.models.list(limit=0)
    assert info.value.body["error"]["param"] == "limit"
