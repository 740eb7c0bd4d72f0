"""Status and body to error class, for each provider's real error bodies; secret scrubbing."""

from __future__ import annotations

import orjson
import pytest

from tokenhub.errors import ErrorKind
from tokenhub.providers.classify import (
    MAX_MESSAGE,
    error_details,
    response_error,
    scrub,
    stream_error,
    transport_error,
)


def openai_body(message: str, kind: str, code: str | None = None) -> bytes:
    """OpenAI's nested error body."""
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


def anthropic_body(kind: str, message: str) -> bytes:
    """Anthropic's error body."""
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


def vllm_body(message: str, kind: str, code: int) -> bytes:
    """The flat error body of vLLM's OpenAI server."""
    return orjson.dumps(
        {"object": "error", "message": message, "type": kind, "param": None, "code": code}
    )


CASES = [
    # OpenAI
    (
        400,
        openai_body("Too long", "invalid_request_error", "context_length_exceeded"),
        "context_overflow",
    ),
    (
        400,
        openai_body(
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 130000 tokens.",
            "invalid_request_error",
        ),
        "context_overflow",
    ),
    (400, openai_body("Invalid value for 'temperature'", "invalid_request_error"), "fatal"),
    (
        401,
        openai_body("Incorrect API key provided", "invalid_request_error", "invalid_api_key"),
        "auth",
    ),
    (403, openai_body("Country, region, or territory not supported", "request_forbidden"), "auth"),
    (
        404,
        openai_body("The model `x` does not exist", "invalid_request_error", "model_not_found"),
        "model_unavailable",
    ),
    (408, b"", "transient"),
    (409, openai_body("conflict", "invalid_request_error"), "transient"),
    (429, openai_body("Rate limit reached", "requests", "rate_limit_exceeded"), "rate_limited"),
    (
        429,
        openai_body("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
        "quota_exhausted",
    ),
    (500, openai_body("The server had an error", "server_error"), "transient"),
    (503, openai_body("That model is currently overloaded", "server_error"), "transient"),
    # Anthropic
    (
        400,
        anthropic_body(
            "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"
        ),
        "context_overflow",
    ),
    (
        400,
        anthropic_body(
            "invalid_request_error",
            "input length and `max_tokens` exceed context limit: 199000 + 4096 > 200000",
        ),
        "context_overflow",
    ),
    (400, anthropic_body("invalid_request_error", "max_tokens: Field required"), "fatal"),
    (401, anthropic_body("authentication_error", "invalid x-api-key"), "auth"),
    (402, anthropic_body("billing_error", "Your credit balance is too low"), "quota_exhausted"),
    (
        400,
        anthropic_body(
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans"
            " & Billing to upgrade or purchase credits.",
        ),
        "quota_exhausted",
    ),
    (403, anthropic_body("permission_error", "not allowed"), "auth"),
    (404, anthropic_body("not_found_error", "model: claude-9"), "model_unavailable"),
    (413, anthropic_body("request_too_large", "Request exceeds the maximum size"), "fatal"),
    (429, anthropic_body("rate_limit_error", "Number of requests has exceeded"), "rate_limited"),
    (500, anthropic_body("api_error", "Internal server error"), "transient"),
    (529, anthropic_body("overloaded_error", "Overloaded"), "transient"),
    # vLLM
    (
        400,
        vllm_body(
            "This model's maximum context length is 8192 tokens. However, you requested 9000 "
            "tokens (8000 in the messages, 1000 in the completion).",
            "BadRequestError",
            400,
        ),
        "context_overflow",
    ),
    (
        400,
        vllm_body(
            "The decoder prompt (length 9000) is longer than the maximum model length of 8192.",
            "BadRequestError",
            400,
        ),
        "context_overflow",
    ),
    (400, vllm_body("temperature must be non-negative", "BadRequestError", 400), "fatal"),
    (401, b'{"error": "Unauthorized"}', "auth"),
    (404, vllm_body("The model `x` does not exist.", "NotFoundError", 404), "model_unavailable"),
    (500, vllm_body("Internal server error", "InternalServerError", 500), "transient"),
    # Anything else
    (502, b"<html><body>Bad gateway</body></html>", "transient"),
    (302, b"", "transient"),
    (418, b"I'm a teapot", "fatal"),
]


@pytest.mark.parametrize(("status", "body", "kind"), CASES)
def test_response_classification(status, body, kind):
    """Each real body and status maps to the class the router acts on."""
    error = response_error(status, body, secret=None, provider="p")
    assert error.kind == ErrorKind(kind)
    assert error.upstream_status == status
    assert error.provider == "p"
    assert len(error.message) <= MAX_MESSAGE


def test_retry_after_only_on_rate_limits():
    """``retry_after`` is kept for rate_limited errors and dropped for the others."""
    limited = response_error(429, b"{}", secret=None, provider="p", retry_after=3.0)
    failed = response_error(503, b"{}", secret=None, provider="p", retry_after=3.0)
    assert limited.retry_after == 3.0
    assert failed.retry_after is None


def test_message_names_status_type_and_upstream_text():
    """The message is "HTTP <status> <type>: <upstream message>"."""
    error = response_error(
        529, anthropic_body("overloaded_error", "Overloaded"), secret=None, provider="p"
    )
    assert error.message == "HTTP 529 overloaded_error: Overloaded"


def test_html_pages_are_not_quoted():
    """An HTML error page from a proxy leaves just the status in the message."""
    error = response_error(502, b"<html>" + b"x" * 5000, secret=None, provider="p")
    assert error.message == "HTTP 502"


def test_plain_text_bodies_are_quoted_and_cut():
    """A plain-text body becomes the message, whitespace folded, cut to the limit."""
    error = response_error(500, b"upstream\n  exploded " * 100, secret=None, provider="p")
    assert error.message.startswith("HTTP 500: upstream exploded upstream")
    assert len(error.message) == MAX_MESSAGE


def test_echoed_key_is_scrubbed_from_the_message():
    """A body echoing the credential never puts it in ProviderError.message."""
    key = "sk-proj-abcdefghijklmnop1234"
    body = openai_body(f"Incorrect API key provided: {key}.", "invalid_request_error")
    error = response_error(401, body, secret=key, provider="p")
    assert key not in error.message
    assert "abcdefghijklmnop" not in error.message
    assert error.message == (
        "HTTP 401 invalid_request_error: Incorrect API key provided: [redacted]."
    )


def test_key_far_into_a_long_body_is_scrubbed_before_cutting():
    """A key straddling the length limit is masked before the message is cut."""
    key = "tok-9f8e7d6c5b4a39281706"
    text = "x" * (MAX_MESSAGE - 25) + key + " tail"
    error = response_error(400, text.encode(), secret=key, provider="p")
    assert "9f8e7d" not in error.message
    assert error.message.startswith("HTTP 400: xxxx")
    assert error.message.endswith("x[redacted] tail")
    assert len(error.message) == MAX_MESSAGE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Incorrect API key provided: sk-abc***************wxyz.",
            "Incorrect API key provided: [redacted]",
        ),
        ("key sk-ant-api03-AbCdEfGhIjKlMnOp rejected", "key [redacted] rejected"),
        ("header was Bearer eyJhbGciOi.payload.sig", "header was [redacted]"),
        ("groq key gsk_ABCDEFGHIJKLMNOP is invalid", "groq key [redacted] is invalid"),
        ("tokenhub key th-abcdefgh12345678 leaked", "tokenhub key [redacted] leaked"),
    ],
)
def test_credential_shapes_are_scrubbed(text, expected):
    """Masked OpenAI keys, Anthropic and Groq keys, bearer tokens and th- keys are masked.

    Only the credential goes: the words around it, which say what went wrong, stay.
    """
    cleaned = scrub(text, secret=None)
    assert cleaned == expected
    for fragment in ("wxyz", "AbCdEf", "eyJhbG", "ABCDEFGH", "abcdefgh1234"):
        assert fragment not in cleaned


def test_scrub_leaves_ordinary_words():
    """Words that merely contain "sk-" or are short are left alone."""
    assert scrub("task-runner ask-me sk- done", secret="ab") == "task-runner ask-me sk- done"


@pytest.mark.parametrize(
    ("payload", "kind"),
    [
        ({"message": "The server had an error", "type": "server_error"}, "transient"),
        (
            {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"},
            "rate_limited",
        ),
        (
            {"message": "3 is greater than the maximum of 2", "type": "invalid_request_error"},
            "fatal",
        ),
        ({"type": "overloaded_error", "message": "Overloaded"}, "transient"),
        ({"type": "rate_limit_error", "message": "slow down"}, "rate_limited"),
        ({"type": "authentication_error", "message": "bad key"}, "auth"),
        (
            {"object": "error", "message": "boom", "type": "InternalServerError", "code": 500},
            "transient",
        ),
        (
            {
                "object": "error",
                "message": "prompt is too long",
                "type": "BadRequestError",
                "code": 400,
            },
            "context_overflow",
        ),
        ({"type": "not_found_error", "message": "model: claude-9"}, "model_unavailable"),
        ("something broke", "transient"),
        (None, "transient"),
    ],
)
def test_stream_error_classification(payload, kind):
    """In-stream error objects take their class from type, code or wording."""
    error = stream_error(payload, secret=None, provider="p")
    assert error.kind == ErrorKind(kind)
    assert error.upstream_status is None


def test_stream_client_errors_may_be_transient():
    """With client_errors_fatal off (vLLM), a 400-typed in-stream error is transient."""
    payload = {"object": "error", "message": "x", "type": "BadRequestError", "code": 400}
    assert stream_error(payload, secret=None, provider="p").kind is ErrorKind.FATAL
    lenient = stream_error(payload, secret=None, provider="p", client_errors_fatal=False)
    assert lenient.kind is ErrorKind.TRANSIENT


def test_stream_error_is_scrubbed():
    """In-stream messages are scrubbed like the others."""
    error = stream_error({"message": "key sk-live-12345678 bad"}, secret=None, provider="p")
    assert "12345678" not in error.message
    assert error.message == "stream error: key [redacted] bad"


def test_error_details_reads_every_shape():
    """(message, type, code) come out of OpenAI, Anthropic, vLLM flat and bare shapes."""
    assert error_details(orjson.loads(openai_body("m", "t", "c"))) == ("m", "t", "c")
    assert error_details(orjson.loads(anthropic_body("t", "m"))) == ("m", "t", None)
    assert error_details(orjson.loads(vllm_body("m", "t", 400))) == ("m", "t", "400")
    assert error_details({"error": "Unauthorized"}) == ("Unauthorized", None, None)
    assert error_details([1, 2]) == (None, None, None)


def test_transport_errors_are_transient_and_plain():
    """Timeouts and connection failures are transient and say what happened."""
    timed = transport_error(TimeoutError(), provider="p", phase="waiting for the answer")
    assert (timed.kind, timed.message) == (ErrorKind.TRANSIENT, "timed out waiting for the answer")
    refused = transport_error(
        ConnectionRefusedError(111, "Connection refused"), provider="p", phase="x"
    )
    assert refused.message == "connection failed x: Connection refused"
