"""/v1/chat (the tokenhub envelope) and /v1/models."""

from __future__ import annotations

import pytest

from tokenhub.sim import count_tokens


async def test_envelope_reports_the_decision(stack):
    """The envelope answers with negotiated model, provider, costs, reason and attempts."""
    answer = "Enveloped."
    stack.sim.enqueue("an", reply=answer)
    response = await stack.client.post(
        "/v1/chat",
        json={
            "capabilities": ["tools"],
            "policy": {"mode": "high_confidence"},
            "request": {
                "id": "req-42",
                "messages": [{"role": "user", "content": "hello"}],
                "estimated_input_tokens": 20,
                "meta": {"team": "docs"},
            },
        },
    )
    body = await response.json()
    assert response.status == 200, body
    assert body["request_id"] == "req-42"
    assert body["negotiated_model"] == "claude-x"
    assert body["provider"] == "an"
    assert body["estimated_cost_usd"] > 0
    usage = body["response"]["usage"]
    # claude-x costs $3 in and $15 out per million tokens
    assert body["cost_usd"] == pytest.approx(
        (usage["input_tokens"] * 3 + usage["output_tokens"] * 15) / 1e6
    )
    assert "mode=high_confidence" in body["routing_reason"]
    assert body["attempts"][0]["outcome"] == "ok"
    assert body["response"]["message"]["content"] == answer
    assert body["response"]["usage"]["output_tokens"] == count_tokens(answer)
    assert body["response"]["usage"]["cache_read_tokens"] == 0  # the simulator caches nothing
    assert response.headers["X-Tokenhub-Model"] == "claude-x"


async def test_envelope_validation_names_field(stack):
    """A bad envelope is 400 naming the field inside it."""
    response = await stack.client.post("/v1/chat", json={"request": {"messages": []}})
    body = await response.json()
    assert response.status == 400
    assert body["error"]["param"] == "request.messages"


async def test_estimated_tokens_errs_high(stack):
    """A client estimate larger than ours is used (it may know better), so small models drop."""
    response = await stack.client.post(
        "/v1/chat",
        json={
            "policy": {"mode": "cheap"},
            "request": {
                "messages": [{"role": "user", "content": "hi"}],
                "estimated_input_tokens": 50_000,
            },
        },
    )
    body = await response.json()
    # Only big-oa and claude-x fit 50k tokens; the cheap profile takes the cheaper one.
    assert body["negotiated_model"] == "big-oa"


async def test_models_list(stack):
    """GET /v1/models lists enabled models, aliases and routing targets in OpenAI's format."""
    response = await stack.client.get("/v1/models")
    body = await response.json()
    ids = [m["id"] for m in body["data"]]
    assert body["object"] == "list"
    assert ids[:4] == ["big-oa", "claude-x", "small-oa", "small-ob"]
    assert "smart" in ids
    assert {"auto", "tokenhub/cheap", "tokenhub/normal", "tokenhub/high_confidence"} <= set(ids)
    assert all(m["object"] == "model" for m in body["data"])
