"""The vLLM flavour of the OpenAI wire format.

Same shapes as OpenAI except: flat error bodies (``{"object": "error", "message": ...,
"type": "BadRequestError", "param": null, "code": 400}``), vLLM's own context-length
wording, ``{"error": "Unauthorized"}`` for a bad key, hex ids, extra fields on choices and
model cards, no rate-limit headers, and no separate per-model output cap check.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from tokenhub.sim.core import HEX, Plan, Rendered, Reply, SseEvent, StreamCut
from tokenhub.sim.openai_format import sse, with_retry_after
from tokenhub.sim.openai_wire import OpenAIWire
from tokenhub.sim.scenario import ModelSpec

_TYPES: dict[int, str] = {
    HTTPStatus.BAD_REQUEST: "BadRequestError",
    HTTPStatus.NOT_FOUND: "NotFoundError",
    HTTPStatus.TOO_MANY_REQUESTS: "TooManyRequestsError",
    HTTPStatus.INTERNAL_SERVER_ERROR: "InternalServerError",
    HTTPStatus.SERVICE_UNAVAILABLE: "ServiceUnavailableError",
}
_CONTEXT_HEAD = "This model's maximum context length is {window} tokens. However, "
_ENGINE_FAILED = "EngineCore encountered an issue. See stack trace (above) for the root cause."


class VLLMWire(OpenAIWire):
    """Renders answers exactly as vLLM's OpenAI-compatible server sends them."""

    null_usage_on_chunks = False

    def unauthorized(self, given: str) -> Rendered:  # noqa: ARG002 - vLLM says the same either way
        """The vLLM API-key middleware answers a bare ``{"error": "Unauthorized"}``."""
        return self.send(HTTPStatus.UNAUTHORIZED, {"error": "Unauthorized"})

    def unknown_model(self, model: str) -> Rendered:
        """The vLLM 404 NotFoundError for an unserved model."""
        return self.error(HTTPStatus.NOT_FOUND, f"The model `{model}` does not exist.")

    def first_delta(self) -> dict[str, Any]:
        """The vLLM first chunk announces the role with empty content."""
        return {"role": "assistant", "content": ""}

    def model_card(self, model: ModelSpec) -> dict[str, Any]:
        """A vLLM model card, with ``max_model_len`` and a permission entry."""
        created = int(self.clock())
        permission = {
            "id": f"modelperm-{self.ids.token(32, HEX)}",
            "object": "model_permission",
            "created": created,
            "allow_create_engine": False,
            "allow_sampling": True,
            "allow_logprobs": True,
            "allow_search_indices": False,
            "allow_view": True,
            "allow_fine_tuning": False,
            "organization": "*",
            "group": None,
            "is_blocking": False,
        }
        return {
            "id": model.id,
            "object": "model",
            "created": created,
            "owned_by": "vllm",
            "root": model.id,
            "parent": None,
            "max_model_len": model.context_window,
            "permission": [permission],
        }

    def envelope(self, kind: str, plan: Plan) -> dict[str, Any]:
        """The vLLM server ids are ``chatcmpl-`` plus 32 hex digits; no fingerprint or tier."""
        return {
            "id": f"chatcmpl-{self.ids.token(32, HEX)}",
            "object": kind,
            "created": int(self.clock()),
            "model": plan.request.model,
        }

    def message(self, reply: Reply) -> dict[str, Any]:
        """The vLLM message always lists ``tool_calls`` and a ``reasoning_content`` slot.

        A model with ``reasoning`` fills it, as vLLM's reasoning parsers do.
        """
        return {
            "role": "assistant",
            "reasoning_content": "".join(reply.reasoning) or None,
            "content": reply.text or None,
            "tool_calls": self.tool_calls(reply),
        }

    def completion_extras(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The vLLM server adds ``stop_reason`` (choice) and ``prompt_logprobs`` (body)."""
        return {"stop_reason": None}, {"prompt_logprobs": None}

    def logprobs_object(self, content: list[dict[str, Any]]) -> dict[str, Any]:
        """The vLLM choice ``logprobs`` has no ``refusal`` list."""
        return {"content": content}

    def first_logprobs(self) -> dict[str, Any] | None:
        """The vLLM role chunk carries no logprobs."""
        return None

    def call_id(self) -> str:
        """The vLLM server tool-call ids: ``chatcmpl-tool-`` plus 32 hex digits."""
        return f"chatcmpl-tool-{self.ids.token(32, HEX)}"

    def usage(self, plan: Plan) -> dict[str, Any]:
        """The vLLM usage has no detail breakdowns."""
        return self.base_usage(plan) | {"prompt_tokens_details": None}

    def headers(self, plan: Plan | None = None, retry: float | None = None) -> dict[str, str]:  # noqa: ARG002 - vLLM sends no rate-limit headers
        """Only ``x-request-id`` (hex), plus ``retry-after`` when set."""
        return with_retry_after({"x-request-id": self.ids.token(32, HEX)}, retry)

    def error_type(self, status: int) -> str:
        """The vLLM server names error types after exception classes."""
        fallback = (
            "InternalServerError"
            if status >= HTTPStatus.INTERNAL_SERVER_ERROR
            else "BadRequestError"
        )
        return _TYPES.get(status, fallback)

    def error_body(self, message: str, kind: str, param: str | None, code: str | None) -> Any:  # noqa: ARG002 - vLLM's code is the status
        """The vLLM flat error object; ``code`` is filled in by ``error``."""
        return {"object": "error", "message": message, "type": kind, "param": param, "code": None}

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
        """Render vLLM's flat error, whose ``code`` is the HTTP status."""
        body = self.error_body(message, kind or self.error_type(status), param, code)
        body["code"] = int(status)
        return self.send(status, body, self.headers(plan, retry))

    def stream_error(self, cut: StreamCut) -> list[SseEvent]:
        """The in-stream error: ``{"error": <flat error>}``, then ``[DONE]``.

        vLLM's stream generator catches whatever failed and labels it with its defaults,
        ``BadRequestError`` and code 400, unless the test asks for another ``error_type``.
        """
        kind = cut.error_type or "BadRequestError"
        code = next((int(s) for s, name in _TYPES.items() if name == kind), 400)
        error = {
            "object": "error",
            "message": cut.message or _ENGINE_FAILED,
            "type": kind,
            "param": None,
            "code": code,
        }
        return [SseEvent(sse({"error": error})), SseEvent(b"data: [DONE]\n\n")]

    def default_message(self, status: int, plan: Plan) -> str:  # noqa: ARG002 - same text for every plan
        """Plain wording; vLLM itself never rate-limits, a proxy in front of it does."""
        return {429: "Too many requests", 503: "Service unavailable"}.get(
            status, "Internal server error"
        )

    def too_large(self, plan: Plan) -> Rendered:
        """The vLLM server only checks the context window, so this is the context error."""
        return self.context_error(plan)

    def context_error(self, plan: Plan) -> Rendered:
        """The vLLM wording, with or without ``max_tokens``."""
        window = plan.model.context_window
        prompt, asked = plan.request.prompt_tokens, plan.request.max_tokens
        head = _CONTEXT_HEAD.format(window=window)
        if asked is None:
            message = head + f"you requested {max(prompt, window)} tokens in the messages, "
            message += "Please reduce the length of the messages."
        else:
            message = head + (
                f"you requested {prompt + asked} tokens ({prompt} in the messages, {asked} in "
                "the completion). Please reduce the length of the messages or completion."
            )
        return self.error(HTTPStatus.BAD_REQUEST, message, param=None, plan=plan)
