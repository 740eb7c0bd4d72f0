"""The OpenAI Chat Completions wire format: completions, chunks, errors and headers.

``VLLMWire`` (in ``vllm_wire``) overrides the few hooks where vLLM's server differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import orjson

from tokenhub.sim.core import (
    HEX,
    IdSource,
    Plan,
    Rendered,
    Reply,
    RequestInvalid,
    SimRequest,
    SseEvent,
    StreamAnswer,
    StreamCut,
    split_tokens,
)
from tokenhub.sim.logprobs import token_logprob
from tokenhub.sim.openai_format import go_duration, rate_headers, sse, with_retry_after
from tokenhub.sim.openai_request import parse_chat
from tokenhub.sim.scenario import ModelSpec, ProviderSpec

JSON_HEADERS = {"content-type": "application/json"}
SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
_MODELS_CREATED = 1_700_000_000
_TYPES: dict[int, str] = {
    HTTPStatus.TOO_MANY_REQUESTS: "requests",
    HTTPStatus.INTERNAL_SERVER_ERROR: "server_error",
    HTTPStatus.SERVICE_UNAVAILABLE: "server_error",
}
_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)
_WRONG_KEY = (
    "Incorrect API key provided: {masked}. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)
_RATE_LIMITED = (
    "Rate limit reached for {model} in organization org-tokenhubsim on requests per min (RPM): "
    "Limit {limit}, Used {limit}, Requested 1. Please try again in {wait}. Visit "
    "https://platform.openai.com/account/rate-limits to learn more."
)
_OVERLOADED = (
    "That model is currently overloaded with other requests. You can retry your request, or "
    "contact us through our help center at help.openai.com if the error persists. (Please "
    "include the request ID {request_id} in your message.)"
)
_SERVER_ERROR = (
    "The server had an error processing your request. Sorry about that! You can retry your "
    "request, or contact us through our help center at help.openai.com if you keep seeing "
    "this error. (Please include the request ID {request_id} in your email.)"
)
_STREAM_FAILED = "The server had an error while processing your request. Sorry about that!"
_CONTEXT_HEAD = "This model's maximum context length is {window} tokens. However, "
_REQUESTED = (
    "you requested {total} tokens ({prompt} in the messages, {asked} in the completion). "
    "Please reduce the length of the messages or completion."
)


class OpenAIWire:
    """Renders answers exactly as the OpenAI API sends them."""

    def __init__(self, spec: ProviderSpec, seed: int, clock: Callable[[], float]) -> None:
        self.spec = spec
        self.ids = IdSource(seed, spec.name)
        self.clock = clock
        self._fingerprint = "fp_" + self.ids.token(10, HEX)

    def check_headers(self, headers: Mapping[str, str]) -> Rendered | None:
        """Answer 401 unless ``Authorization: Bearer <api_key>`` matches."""
        key = self.spec.api_key
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if key is None or (scheme.lower() == "bearer" and given == key):
            return None
        return self.unauthorized(given)

    def unauthorized(self, given: str) -> Rendered:
        """The 401 for a missing or wrong key."""
        if not given:
            return self.error(HTTPStatus.UNAUTHORIZED, _MISSING_KEY)
        masked = given[:3] + "*" * max(0, len(given) - 7) + given[-4:]
        message = _WRONG_KEY.format(masked=masked)
        return self.error(HTTPStatus.UNAUTHORIZED, message, code="invalid_api_key")

    def parse(self, body: Any, headers: Mapping[str, str]) -> SimRequest:  # noqa: ARG002 - no header changes what OpenAI accepts
        """Validate a Chat Completions body."""
        return parse_chat(body)

    def invalid(self, error: RequestInvalid) -> Rendered:
        """Render a validation failure as a 400."""
        return self.error(HTTPStatus.BAD_REQUEST, error.message, param=error.param, code=error.code)

    def unknown_model(self, model: str) -> Rendered:
        """Render the 404 for a model this provider does not serve."""
        message = f"The model `{model}` does not exist or you do not have access to it."
        return self.error(HTTPStatus.NOT_FOUND, message, code="model_not_found")

    def fault(self, plan: Plan) -> Rendered:
        """Render an injected or computed error answer."""
        fault = plan.fault
        assert fault is not None
        if fault.error_type == "context_length_exceeded":
            return self.context_error(plan)
        if fault.error_type == "max_tokens_too_large":
            return self.too_large(plan)
        status = fault.status
        message = fault.message or self.default_message(status, plan)
        kind = fault.error_type or self.error_type(status)
        # OpenAI repeats the type as the code for an exhausted quota (``insufficient_quota``).
        code = "rate_limit_exceeded" if status == HTTPStatus.TOO_MANY_REQUESTS else None
        if kind == "insufficient_quota":
            code = kind
        return self.error(status, message, kind, code=code, plan=plan, retry=fault.retry_after)

    def reply(self, plan: Plan) -> Rendered:
        """Render a complete chat.completion object."""
        reply = plan.reply
        assert reply is not None
        top = plan.request.logprobs
        choice = {
            "index": 0,
            "message": self.message(reply),
            "logprobs": None
            if top is None
            else self.logprobs_object([token_logprob(p, top) for p in reply.pieces]),
            "finish_reason": reply.finish_reason,
        }
        choice_extra, body_extra = self.completion_extras()
        body = self.envelope("chat.completion", plan)
        body |= {"choices": [choice | choice_extra], "usage": self.usage(plan)} | body_extra
        return self.send(HTTPStatus.OK, body, self.headers(plan))

    def stream(self, plan: Plan) -> StreamAnswer:
        """Render chat.completion.chunk events, an optional usage chunk and [DONE]."""
        reply = plan.reply
        assert reply is not None
        envelope = self.envelope("chat.completion.chunk", plan)
        if plan.request.include_usage and self.null_usage_on_chunks:
            envelope["usage"] = None
        top = plan.request.logprobs
        first = None if top is None else self.first_logprobs()
        events = [self._chunk(envelope, self.first_delta(), logprobs=first)]
        if reply.reasoning:
            events += [
                self._chunk(envelope, {"reasoning_content": p}, paced=True) for p in reply.reasoning
            ]
        if top is None:
            events += [self._chunk(envelope, {"content": p}, paced=True) for p in reply.pieces]
        else:
            events += [
                self._chunk(
                    envelope,
                    {"content": p},
                    paced=True,
                    logprobs=self.logprobs_object([token_logprob(p, top)]),
                )
                for p in reply.pieces
            ]
        events += self._tool_events(envelope, reply)
        events.append(self._chunk(envelope, {}, finish=reply.finish_reason))
        if plan.request.include_usage:
            events.append(SseEvent(sse(envelope | {"choices": [], "usage": self.usage(plan)})))
        events.append(SseEvent(b"data: [DONE]\n\n"))
        return StreamAnswer(self.headers(plan) | SSE_HEADERS, events)

    def stream_error(self, cut: StreamCut) -> list[SseEvent]:
        """A failed OpenAI stream: a ``data: {"error": {...}}`` frame, then the end, no [DONE]."""
        error = {
            "message": cut.message or _STREAM_FAILED,
            "type": cut.error_type or "server_error",
            "param": None,
            "code": None,
        }
        return [SseEvent(sse({"error": error}))]

    def models(self, provider: ProviderSpec) -> Rendered:
        """Render ``GET /v1/models`` as a list object."""
        data = [self.model_card(m) for m in provider.models]
        return self.send(HTTPStatus.OK, {"object": "list", "data": data})

    # Hooks that VLLMWire overrides.

    null_usage_on_chunks = True
    """With ``include_usage``, every chunk before the usage chunk carries ``usage: null``."""

    def first_delta(self) -> dict[str, Any]:
        """The delta of the first chunk, which announces the role."""
        return {"role": "assistant", "content": "", "refusal": None}

    def completion_extras(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Extra fields for the choice and the body of a complete answer."""
        return {}, {}

    def logprobs_object(self, content: list[dict[str, Any]]) -> dict[str, Any]:
        """A choice's ``logprobs`` for these token entries."""
        return {"content": content, "refusal": None}

    def first_logprobs(self) -> dict[str, Any] | None:
        """The role chunk's ``logprobs`` when logprobs are on: no tokens yet."""
        return self.logprobs_object([])

    def model_card(self, model: ModelSpec) -> dict[str, Any]:
        """One entry of the model list."""
        return {"id": model.id, "object": "model", "created": _MODELS_CREATED, "owned_by": "openai"}

    def envelope(self, kind: str, plan: Plan) -> dict[str, Any]:
        """The fields every completion and chunk carries."""
        return {
            "id": f"chatcmpl-{self.ids.token(29)}",
            "object": kind,
            "created": int(self.clock()),
            "model": plan.request.model,
            "service_tier": _tier(plan.request.service_tier),
            "system_fingerprint": self._fingerprint,
        }

    def message(self, reply: Reply) -> dict[str, Any]:
        """The assistant message of a complete answer."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text or None,
            "refusal": None,
            "annotations": [],
        }
        if reply.reasoning:
            # What OpenAI-compatible reasoning vendors add; OpenAI itself sends no reasoning text.
            message["reasoning_content"] = "".join(reply.reasoning)
        if reply.tool_calls:
            message["tool_calls"] = self.tool_calls(reply)
        return message

    def tool_calls(self, reply: Reply) -> list[dict[str, Any]]:
        """The message's tool calls with fresh ids."""
        return [
            {
                "id": self.call_id(),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for c in reply.tool_calls
        ]

    def call_id(self) -> str:
        """A new tool-call id."""
        return f"call_{self.ids.token(24)}"

    def usage(self, plan: Plan) -> dict[str, Any]:
        """The usage object, with OpenAI's detail breakdowns."""
        return self.base_usage(plan) | {
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": len(plan.reply.reasoning) if plan.reply else 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    @staticmethod
    def base_usage(plan: Plan) -> dict[str, Any]:
        """Prompt, completion and total token counts."""
        prompt = plan.request.prompt_tokens
        output = plan.reply.output_tokens if plan.reply else 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": output,
            "total_tokens": prompt + output,
        }

    def headers(self, plan: Plan | None = None, retry: float | None = None) -> dict[str, str]:
        """Request id, version and (with a plan) rate-limit headers."""
        headers = {
            "x-request-id": f"req_{self.ids.token(32, HEX)}",
            "openai-version": "2020-10-01",
            "openai-processing-ms": "1",
        }
        if plan is not None:
            headers |= rate_headers(plan.limits)
        return with_retry_after(headers, retry)

    def error_type(self, status: int) -> str:
        """The error ``type`` field for an HTTP status."""
        server = status >= HTTPStatus.INTERNAL_SERVER_ERROR
        return _TYPES.get(status, "server_error" if server else "invalid_request_error")

    def error_body(self, message: str, kind: str, param: str | None, code: str | None) -> Any:
        """The JSON error envelope."""
        return {"error": {"message": message, "type": kind, "param": param, "code": code}}

    def default_message(self, status: int, plan: Plan) -> str:
        """The provider's wording for an error status."""
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            wait = go_duration(plan.fault.retry_after or 0) if plan.fault else "1s"
            limit = plan.limits.requests_limit
            return _RATE_LIMITED.format(model=plan.request.model, limit=limit, wait=wait)
        template = _OVERLOADED if status == HTTPStatus.SERVICE_UNAVAILABLE else _SERVER_ERROR
        return template.format(request_id=f"req_{self.ids.token(32, HEX)}")

    def context_error(self, plan: Plan) -> Rendered:
        """The 400 for a prompt (plus max_tokens) that does not fit the context window."""
        window = plan.model.context_window
        prompt, asked = plan.request.prompt_tokens, plan.request.max_tokens
        head = _CONTEXT_HEAD.format(window=window)
        if asked is not None and prompt <= window < prompt + asked:
            message = head + _REQUESTED.format(total=prompt + asked, prompt=prompt, asked=asked)
        else:
            resulted = max(prompt, window + 1)
            message = head + f"your messages resulted in {resulted} tokens. "
            message += "Please reduce the length of the messages."
        return self.error(
            HTTPStatus.BAD_REQUEST,
            message,
            param="messages",
            code="context_length_exceeded",
            plan=plan,
        )

    def too_large(self, plan: Plan) -> Rendered:
        """The 400 for ``max_tokens`` above the model's output limit."""
        cap = plan.model.max_output_tokens
        asked = plan.request.max_tokens or cap + 1
        message = (
            f"max_tokens is too large: {asked}. This model supports at most {cap} completion "
            f"tokens, whereas you provided {asked}."
        )
        status = HTTPStatus.BAD_REQUEST
        return self.error(status, message, param="max_tokens", code="invalid_value", plan=plan)

    def error(
        self,
        status: int,
        message: str,
        kind: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        plan: Plan | None = None,
        retry: float | None = None,
    ) -> Rendered:
        """Render an error answer with this provider's body and headers."""
        body = self.error_body(message, kind or self.error_type(status), param, code)
        return self.send(status, body, self.headers(plan, retry))

    def send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> Rendered:
        """Serialize ``body`` as JSON with ``headers``."""
        return Rendered(status, (headers or self.headers()) | JSON_HEADERS, orjson.dumps(body))

    def _tool_events(self, envelope: dict[str, Any], reply: Reply) -> list[SseEvent]:
        events = []
        for index, call in enumerate(reply.tool_calls):
            start = {
                "index": index,
                "id": self.call_id(),
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(self._chunk(envelope, {"tool_calls": [start]}))
            for part in split_tokens(call.arguments):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": part}}]}
                events.append(self._chunk(envelope, delta, paced=True))
        return events

    def _chunk(
        self,
        envelope: dict[str, Any],
        delta: dict[str, Any],
        *,
        finish: str | None = None,
        paced: bool = False,
        logprobs: dict[str, Any] | None = None,
    ) -> SseEvent:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return SseEvent(sse(envelope | {"choices": [choice]}), paced)


def _tier(asked: str | None) -> str:
    """The tier that served the request: ``auto`` (or none) runs on ``default``."""
    return "default" if asked in (None, "auto") else str(asked)
