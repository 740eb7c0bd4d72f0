"""End to end: a provider behind a proxy that refuses fails over to its peer, no secret shown.

The daemon's app with two OpenAI-shaped providers serving peer models; one of them is
configured with an outbound proxy (a real proxy.py) that refuses it. The official OpenAI
SDK is the client.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import openai
import pytest
from tests.providers.outbound import RunningProxy, run_proxy
from tests.server import routing_stack
from tests.server.test_consumer_openai import force_first, received_models

from tokenhub.testing.stack import gateway_stack

SECRET = "pr0xy-s3cret"


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    """A proxy that wants a password nobody here sends."""
    with run_proxy(tmp_path_factory.mktemp("proxy"), basic_auth=f"alice:{SECRET}") as running:
        yield running


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("refusal", ["407", "unreachable"])
async def test_a_refusing_proxy_fails_over_to_the_peer(tokenhub_home, auth_proxy, refusal):
    """Provider oa's proxy refuses (407, or is not listening): small-ob answers instead.

    The failed attempt is transient (oa's health records it), and its error names the
    proxy's address but never the credentials in its URL.
    """
    port = auth_proxy.port if refusal == "407" else closed_port()
    proxy_url = f"http://alice:wr0ng-{SECRET}@127.0.0.1:{port}"

    def registry(sim):
        providers, models = routing_stack.registry(sim)
        providers = [
            p.model_copy(update={"proxy": proxy_url}) if p.id == "oa" else p for p in providers
        ]
        return providers, models

    async with gateway_stack(routing_stack.scenario(), registry) as stack:
        force_first(stack, "small-oa")
        async with openai.AsyncOpenAI(
            base_url=f"{stack.url}/v1", api_key="unused", max_retries=0
        ) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="tokenhub/cheap", messages=[{"role": "user", "content": "hi"}]
            )
        assert raw.parse().model == "small-ob"
        assert raw.headers["x-tokenhub-attempts"] == "2"
        oa = stack.gateway.health.provider("oa")
        assert oa.last_error_kind == "transient"
        expected = "HTTP 407" if refusal == "407" else f"the proxy 127.0.0.1:{port} is unreachable"
        assert expected in (oa.last_error or "")
        assert SECRET not in (oa.last_error or "")
        assert received_models(stack) == ["small-ob"]
