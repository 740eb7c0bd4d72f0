"""The error renderer: each API's body, and the headers a client needs to retry."""

from __future__ import annotations

import orjson
import pytest
from aiohttp.test_utils import make_mocked_request

from tokenhub.errors import OverloadedError
from tokenhub.server.errors import render_error


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/v1/chat/completions", {}), ("/v1/messages", {"anthropic-version": "2023-06-01"})],
)
def test_overloaded_is_503_with_retry_after_in_both_apis(path, headers):
    """Tokenhub saturated: 503, type ``overloaded``, Retry-After, in both APIs' shapes."""
    request = make_mocked_request("POST", path, headers=headers)
    exc = OverloadedError("every candidate's connections are in use", retry_after=2.4)
    response = render_error(request, exc, "req-1")
    body = orjson.loads(response.body)
    assert (response.status, response.headers["Retry-After"]) == (503, "3")  # rounded up
    error = body["error"]
    assert error["type"] == "overloaded"
    assert error["retry_after"] == 2.4
    if path == "/v1/messages":
        assert body["type"] == "error"
    else:
        assert error["code"] == "overloaded"
