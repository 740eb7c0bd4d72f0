"""/v1/chat/completions through the official openai SDK: routing, failover, errors, tools."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from tokenhub.sim import ModelSpec, ProviderSpec, Scenario, count_tokens
from tokenhub.testing.stack import gateway_stack, provider_for

from . import routing_stack


def received_models(stack) -> list[str]:
    """The upstream model of every request the simulator received, in order."""
    return [r.body.get("model") for r in stack.sim.received if r.method == "POST"]


async def test_explicit_model_and_decision_headers(stack, oai):
    """Naming a model routes to it; the response and headers say what was decided."""
    raw = await oai.chat.completions.with_raw_response.create(
        model="big-oa", messages=[{"role": "user", "content": "hi"}]
    )
    completion = raw.parse()
    assert completion.model == "big-oa"
    assert completion.choices[0].message.content
    headers = raw.headers
    assert headers["x-tokenhub-model"] == "big-oa"
    assert headers["x-tokenhub-provider"] == "oa"
    assert headers["x-tokenhub-attempts"] == "1"
    usage = completion.usage  # big-oa costs $2 in and $8 out per million tokens
    expected_cost = (usage.prompt_tokens * 2 + usage.completion_tokens * 8) / 1e6
    assert float(headers["x-tokenhub-cost-usd"]) == pytest.approx(expected_cost, rel=1e-3)
    assert headers["x-tokenhub-request-id"] == headers["x-request-id"]
    assert "mode=normal" in headers["x-tokenhub-reason"]
    assert received_models(stack) == ["big-oa"]


async def test_alias_routes_to_its_model(stack, oai):
    """An alias resolves to the model that declares it."""
    completion = await oai.chat.completions.create(
        model="smart", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.model == "claude-x"


PROFILE_SCENARIO = Scenario(
    seed=5,
    providers=(
        ProviderSpec(
            name="oa",
            type="openai",
            models=tuple(ModelSpec(id=m) for m in ("frugal", "swift", "steady", "sage")),
        ),
    ),
)


def profile_registry(sim):
    """Four models on one provider, priced and weighted so the profiles disagree.

    ``(weight, $/Mtok in, expected ms)``: frugal (2, 0.25, 400), swift (4, 2, 100),
    steady (5, 5.7, 1000), sage (6, 20, 1400); output costs twice the input.
    """
    specs = {"frugal": (2, 0.25, 400), "swift": (4, 2.0, 100), "steady": (5, 5.7, 1000)}
    specs["sage"] = (6, 20.0, 1400)
    models = [
        routing_stack.model(
            mid,
            "oa",
            mid,
            weight=weight,
            input_usd_per_mtok=price,
            output_usd_per_mtok=2 * price,
            expected_latency_ms=latency,
            max_context_tokens=128_000,
        )
        for mid, (weight, price, latency) in specs.items()
    ]
    return [provider_for(sim, "oa")], models


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # score = weight * (w-1)/9 - cost * cost/max - latency * ms/max over the eligible
        # models (docs/ROUTING.md); the winner's lead over the runner-up is in brackets.
        ("tokenhub/cheap", "frugal"),  # cost 0.7: the cheapest (0.029 over swift)
        ("tokenhub/normal", "swift"),  # cost and latency 0.3 each: fast, cheap (0.082)
        ("tokenhub/high_confidence", "sage"),  # min_weight 6: only sage is eligible
        ("tokenhub/planning", "steady"),  # min_weight 5, weight 0.6 (0.033 over sage)
        ("tokenhub/adversarial", "swift"),  # min_weight 4, cost 0.15 (0.036 over steady)
    ],
)
async def test_modes_pick_by_profile(tokenhub_home, target, expected):
    """Each routing target picks the model its mode's weight profile scores best.

    The near-best draw is off (selection_margin 0), so the choice is the top score.
    """
    async with gateway_stack(PROFILE_SCENARIO, profile_registry) as stack:
        stack.gateway.routing = stack.gateway.routing.model_copy(update={"selection_margin": 0})
        async with openai.AsyncOpenAI(
            base_url=f"{stack.url}/v1", api_key="unused", max_retries=0
        ) as client:
            completion = await client.chat.completions.create(
                model=target, messages=[{"role": "user", "content": "hello"}]
            )
        assert completion.model == expected
        assert received_models(stack) == [expected]


async def test_policy_via_body_and_header(stack, oai):
    """The tokenhub body field and X-Tokenhub-* headers constrain the choice."""
    completion = await oai.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"tokenhub": {"min_weight": 8}},
    )
    assert completion.model == "claude-x"
    completion = await oai.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Tokenhub-Mode": "cheap"},
    )
    assert completion.model in {"small-oa", "small-ob"}


def force_first(stack, model_id: str) -> None:
    """Make ``model_id`` the router's first choice whenever it is eligible."""
    others = {e for e in stack.gateway.registry.models if e != model_id}
    stack.gateway.routing = stack.gateway.routing.model_copy(
        update={
            "top_k": 10,
            "selection_margin": 10.0,
            "traffic_weights": dict.fromkeys(others, 0.0),
        }
    )


async def test_429_reroutes_and_cools_the_model(stack, oai):
    """A 429 with Retry-After reroutes; that model alone stays out until it has passed."""
    force_first(stack, "small-oa")
    stack.sim.enqueue("oa", status=429, retry_after=30)
    raw = await oai.chat.completions.with_raw_response.create(
        model="tokenhub/cheap", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().model == "small-ob"
    assert raw.headers["x-tokenhub-attempts"] == "2"
    health = stack.gateway.health
    now = stack.gateway.clock.monotonic()
    assert health.model("small-oa").state == "rate_limited"
    assert 29 < health.model("small-oa").cooldown_left(now) <= 30
    assert health.provider("oa").blocked_reason(now) is None
    again = await oai.chat.completions.create(
        model="tokenhub/cheap", messages=[{"role": "user", "content": "hi"}]
    )
    assert again.model == "small-ob"
    assert received_models(stack).count("small-oa") == 1


async def test_overloaded_529_reroutes(stack, oai):
    """Anthropic's 529 overloaded_error is transient: the next model serves."""
    force_first(stack, "claude-x")
    stack.sim.enqueue("an", status=529)
    raw = await oai.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "hi"}],
        extra_body={"tokenhub": {"min_weight": 7}},
    )
    assert raw.parse().model == "big-oa"
    assert raw.headers["x-tokenhub-attempts"] == "2"


async def test_hang_times_out_and_reroutes(stack, oai):
    """A provider that never answers times out within its timeout and the request moves on."""
    gateway = stack.gateway
    assert gateway.registry.provider("oa").config.timeout_s == 1
    force_first(stack, "small-oa")
    stack.sim.enqueue("oa", hang=True)
    raw = await oai.chat.completions.with_raw_response.create(
        model="tokenhub/cheap", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().model == "small-ob"
    assert gateway.health.model("small-oa").state == "down"


async def test_transient_500_fails_over_to_same_weight_peer(stack, oai):
    """A 500 reroutes to the same-weight peer; one error degrades the model, not ejects it."""
    routing = stack.gateway.routing
    force_first(stack, "small-oa")
    stack.sim.enqueue("oa", model="small-oa", status=500)
    raw = await oai.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().model == "small-ob"
    assert raw.headers["x-tokenhub-attempts"] == "2"
    assert stack.gateway.health.model("small-oa").state == "degraded"
    before = received_models(stack).count("small-oa")
    stack.gateway.routing = routing
    await oai.chat.completions.create(
        model="tokenhub/cheap", messages=[{"role": "user", "content": "hi"}]
    )
    # Its recent error rate now costs it more than the selection margin: the peer goes first.
    assert received_models(stack).count("small-oa") == before


async def test_context_overflow_escalates_to_larger_model(stack, oai):
    """A context-length error from the provider escalates to a model with a larger context."""
    force_first(stack, "small-oa")
    stack.sim.enqueue("oa", model="small-oa", error_type="context_length_exceeded")
    raw = await oai.chat.completions.with_raw_response.create(
        model="tokenhub/cheap", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().model == "big-oa"  # the cheaper of the two larger models
    assert raw.headers["x-tokenhub-attempts"] == "2"
    assert received_models(stack) == ["small-oa", "big-oa"]


async def test_auth_failure_marks_credential_and_reroutes(stack, oai):
    """A 401 marks the provider's credential invalid and another provider answers."""
    force_first(stack, "small-oa")
    stack.sim.enqueue("oa", status=401)
    completion = await oai.chat.completions.create(
        model="tokenhub/cheap", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.model == "small-ob"
    assert stack.gateway.health.provider("oa").state == "credential_invalid"


async def test_model_the_provider_does_not_serve_is_taken_out_and_rerouted(stack, oai):
    """An upstream 404 (a retired or misspelt upstream model) is not the client's fault.

    The request moves on, that model alone is out for the cooldown, its provider stays up.
    """
    ghost = {
        "id": "ghost-oa",
        "provider": "oa",
        "upstream_model": "retired-model",  # the simulator answers its real 404 for it
        "weight": 5,
        "max_context_tokens": 8000,
        "input_usd_per_mtok": 0.01,
        "output_usd_per_mtok": 0.01,
    }
    async with stack.admin.post("/admin/v1/models", json=ghost) as response:
        assert response.status == 201
    force_first(stack, "ghost-oa")
    raw = await oai.chat.completions.with_raw_response.create(
        model="tokenhub/cheap", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().model in {"small-oa", "small-ob"}
    assert raw.headers["x-tokenhub-attempts"] == "2"
    health = stack.gateway.health
    assert health.model("ghost-oa").state == "unavailable"
    assert "retired-model" in (health.model("ghost-oa").last_error or "")
    assert health.provider("oa").state == "healthy"
    assert received_models(stack).count("retired-model") == 1  # no retry of a 404

    with pytest.raises(openai.APIStatusError) as info:
        await oai.chat.completions.create(
            model="ghost-oa", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == 503
    assert info.value.body["rejections"]["ghost-oa"] == ["model_unavailable"]
    assert received_models(stack).count("retired-model") == 1


TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
EXTRAS = {"seed": 7, "presence_penalty": 0.5, "frequency_penalty": -0.25}


async def test_sampling_extras_reach_openai_upstreams_and_map_to_anthropic(stack, oai):
    """seed, penalties, reasoning_effort and parallel_tool_calls reach an OpenAI upstream.

    An Anthropic upstream gets disable_parallel_tool_use and nothing it would refuse.
    """
    ask = {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [TOOL],
        "parallel_tool_calls": False,
        "reasoning_effort": "low",
        **EXTRAS,
    }
    await oai.chat.completions.create(model="small-oa", **ask)
    sent = stack.sim.received[-1].body
    assert {k: sent.get(k) for k in EXTRAS} == EXTRAS
    assert (sent["reasoning_effort"], sent["parallel_tool_calls"]) == ("low", False)
    await oai.chat.completions.create(model="claude-x", **ask)
    sent = stack.sim.received[-1].body
    assert sent["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert not {*EXTRAS, "reasoning_effort", "parallel_tool_calls"} & sent.keys()


async def test_out_of_range_penalty_is_400_naming_it(stack, oai):
    """A penalty outside [-2, 2] is the client's error, named, and never reaches a provider."""
    with pytest.raises(openai.BadRequestError) as info:
        await oai.chat.completions.create(
            model="small-oa", messages=[{"role": "user", "content": "hi"}], presence_penalty=3
        )
    assert info.value.body["param"] == "presence_penalty"
    assert not stack.sim.received


async def test_fatal_error_is_returned_without_reroute(stack, oai):
    """The client's own bad request (upstream 400) comes back as 400; no other model is tried."""
    stack.sim.enqueue("oa", status=400, error_type="invalid_request_error")
    with pytest.raises(openai.BadRequestError) as info:
        await oai.chat.completions.create(
            model="big-oa", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.body["type"] == "invalid_request"
    assert received_models(stack) == ["big-oa"]


async def test_no_eligible_model_error_object(stack, oai):
    """Nothing fits: an OpenAI-shaped error of type no_eligible_model with per-model reasons."""
    with pytest.raises(openai.APIStatusError) as info:
        await oai.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"tokenhub": {"min_weight": 10}},
        )
    assert info.value.status_code == 503
    body = info.value.body
    assert body["type"] == "no_eligible_model"
    assert body["rejections"]["claude-x"] == ["weight_below_min (9 < 10)"]


async def test_budget_exceeded_error(stack, oai):
    """A budget no model fits gives 402 budget_exceeded."""
    with pytest.raises(openai.APIStatusError) as info:
        await oai.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "hi"}],
            extra_body={"tokenhub": {"max_budget_usd": 1e-9}},
        )
    assert info.value.status_code == 402
    assert info.value.body["type"] == "budget_exceeded"


async def test_all_providers_failed_lists_attempts(stack, oai):
    """When every attempt fails the error lists each one."""
    for name in ("oa", "ob", "an"):
        for _ in range(4):
            stack.sim.enqueue(name, status=500 if name != "an" else 529)
    with pytest.raises(openai.APIStatusError) as info:
        await oai.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == 502
    body = info.value.body
    assert body["type"] == "all_providers_failed"
    assert len(body["attempts"]) == 4
    assert {a["error_kind"] for a in body["attempts"]} == {"transient"}


async def test_invalid_request_names_param(stack, oai):
    """A malformed request is a 400 invalid_request naming the field."""
    with pytest.raises(openai.BadRequestError) as info:
        await oai.chat.completions.create(model="auto", messages=[])
    assert info.value.body["type"] == "invalid_request"
    assert info.value.body["param"] == "messages"


async def test_unknown_model_is_404(stack, oai):
    """A model name that is nothing known is 404 model_not_found."""
    with pytest.raises(openai.NotFoundError) as info:
        await oai.chat.completions.create(
            model="nope", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.body["type"] == "model_not_found"


async def test_streaming(stack, oai):
    """A streamed completion relays the upstream's text chunk by chunk, with usage at the end."""
    answer = "Streamed, four characters a token."
    stack.sim.enqueue("oa", model="big-oa", reply=answer)
    stream = await oai.chat.completions.create(
        model="big-oa",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage, models = [], None, set()
    async for chunk in stream:
        models.add(chunk.model)
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    assert "".join(pieces) == answer
    assert len(pieces) > 1  # it came in pieces, not as one block at the end
    assert models == {"big-oa"}
    assert usage.completion_tokens == count_tokens(answer)


async def test_streaming_fails_over_before_first_byte(stack, oai):
    """A stream whose first model errors before any byte is served by the next model."""
    force_first(stack, "big-oa")
    stack.sim.enqueue("oa", model="big-oa", status=500)
    stream = await oai.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        extra_body={"tokenhub": {"min_weight": 7}},
    )
    models = {chunk.model async for chunk in stream}
    assert models == {"claude-x"}


async def test_stream_from_anthropic_provider_to_openai_client(stack, oai):
    """An OpenAI client streams from an Anthropic provider through translation."""
    answer = "Translated from Anthropic's events."
    stack.sim.enqueue("an", reply=answer)
    stream = await oai.chat.completions.create(
        model="claude-x", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = ""
    finish = None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
    assert text == answer
    assert finish == "stop"


async def test_tool_calls_openai_client_to_anthropic_provider(stack, oai):
    """Tools declared by an OpenAI client reach an Anthropic provider and the call comes back."""
    stack.sim.enqueue("an", tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}])
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    completion = await oai.chat.completions.create(
        model="claude-x", messages=[{"role": "user", "content": "weather in Paris?"}], tools=tools
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert completion.choices[0].finish_reason == "tool_calls"
    sent = stack.sim.received_by("an")[-1].body
    assert sent["tools"][0]["name"] == "get_weather"
    assert sent["tools"][0]["input_schema"]["properties"]["city"] == {"type": "string"}


async def test_error_after_first_byte_ends_stream_with_error_event(stack, oai):
    """Once bytes reached the client, an upstream failure ends the stream with an error event."""
    stack.sim.enqueue("oa", model="big-oa", fail_after_events=2, error_type="server_error")
    stream = await oai.chat.completions.create(
        model="big-oa", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    seen: list[str] = []

    async def drain() -> None:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                seen.append(chunk.choices[0].delta.content)  # noqa: PERF401 - an async for

    with pytest.raises(openai.APIError) as info:
        await drain()
    assert len(seen) == 2  # both events before the failure reached the client
    assert info.value.body["type"] == "provider_error"
    assert info.value.message.startswith("stream error server_error: ")
    received = [r for r in stack.sim.received if r.method == "POST"]
    assert len(received) == 1


async def test_drop_after_first_byte_ends_stream_with_error_event(stack, claude):
    """A cut upstream connection mid-stream reaches an Anthropic client as an error event."""
    stack.sim.enqueue("oa", model="big-oa", drop_after_events=2)

    async def consume() -> None:
        async with claude.messages.stream(
            model="big-oa", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            await stream.get_final_message()

    with pytest.raises(anthropic.APIError):
        await consume()
