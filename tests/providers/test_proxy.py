"""Outbound proxies and internal CAs: a real proxy.py in front of a trustme-signed upstream.

Requests go through the pool a daemon builds (``ProviderPool`` with an injected
environment), to the simulator served over TLS; the proxy's own access log proves which
connections it carried.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvloop
from tests.providers.outbound import (
    Certificates,
    RunningProxy,
    make_certificates,
    run_proxy,
)
from tests.providers.support import OPENAI_KEY, ask, model, options
from tests.providers.support import scenario as scenario_spec
from yarl import URL

from tokenhub.clock import FakeClock
from tokenhub.errors import ConfigError, ErrorKind, ProviderError
from tokenhub.providers.kinds import default_kinds
from tokenhub.providers.pool import ProviderPool
from tokenhub.providers.proxy import NoProxy, parse_proxy, proxy_routes
from tokenhub.schemas import ProviderConfig
from tokenhub.sim import Simulator, start_simulator

GPT = model("gpt-4o")
SECRET = "pr0xy-s3cret"
USER = "alice"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    """A throwaway CA and the upstream's certificate."""
    return make_certificates(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    """An open proxy."""
    with run_proxy(tmp_path_factory.mktemp("proxy")) as running:
        yield running


@pytest.fixture(scope="module")
def auth_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    """A proxy that wants ``alice``'s password."""
    with run_proxy(tmp_path_factory.mktemp("auth-proxy"), basic_auth=f"{USER}:{SECRET}") as p:
        yield p


@pytest.fixture
async def tls_sim(certs: Certificates) -> AsyncIterator[Simulator]:
    """The simulator over https, its certificate signed by the test CA, named ``localhost``."""
    async with start_simulator(
        scenario_spec(), ssl_context=certs.server, url_host="localhost"
    ) as s:
        yield s


@asynccontextmanager
async def pool_of(
    clock: FakeClock, environ: Mapping[str, str], *providers: ProviderConfig
) -> AsyncIterator[ProviderPool]:
    """A pool over ``providers``, built with ``environ`` as the daemon's environment."""
    async with ProviderPool(default_kinds(plugins=False), clock, environ=environ) as pool:
        await pool.sync(list(providers))
        yield pool


def provider(base_url: str, certs: Certificates | None = None, **extra: Any) -> ProviderConfig:
    """An OpenAI-kind provider at ``base_url``, trusting the test CA when given."""
    if certs is not None:
        extra["ca_file"] = str(certs.ca_file)
    return ProviderConfig(id=extra.pop("id", "oa"), type="openai", base_url=base_url, **extra)


async def ask_once(pool: ProviderPool, clock: FakeClock, provider_id: str = "oa") -> str:
    """One non-streaming call without adapter retries; the reply's text."""
    result = await pool.get(provider_id).complete(
        ask(), GPT, options(clock, api_key=OPENAI_KEY, max_retries=0)
    )
    return result.response.message.text()


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def at(sim: Simulator, host: str) -> str:
    """The simulator's OpenAI base URL with ``host`` in it."""
    return str(URL(sim.base_url("openai")).with_host(host))


# Through a real proxy.


async def test_https_goes_through_the_environment_proxy(tls_sim, certs, proxy, fake_clock):
    """HTTPS_PROXY: a CONNECT tunnel, TLS to the upstream inside it, trusted by ca_file."""
    port = URL(tls_sim.url).port
    async with pool_of(
        fake_clock, {"HTTPS_PROXY": proxy.url}, provider(tls_sim.base_url("openai"), certs)
    ) as pool:
        assert await ask_once(pool, fake_clock)
    await proxy.wait_for(f"CONNECT localhost:{port}")


async def test_no_proxy_hosts_bypass_the_proxy(tls_sim, certs, proxy, fake_clock):
    """A NO_PROXY host is reached directly; another host still goes through the proxy."""
    port = URL(tls_sim.url).port
    env = {"https_proxy": proxy.url, "NO_PROXY": "example.com, localhost"}
    direct = provider(at(tls_sim, "localhost"), certs, id="direct")
    via = provider(at(tls_sim, "127.0.0.1"), certs, id="via")
    async with pool_of(fake_clock, env, direct, via) as pool:
        assert await ask_once(pool, fake_clock, "direct")
        assert await ask_once(pool, fake_clock, "via")
    log = await proxy.wait_for(f"CONNECT 127.0.0.1:{port}")
    assert f"CONNECT localhost:{port}" not in log
    assert len(tls_sim.state.received) == 2


async def test_provider_proxy_with_credentials_overrides_the_environment(
    tls_sim, certs, auth_proxy, fake_clock
):
    """The provider's own proxy wins over HTTPS_PROXY; its credentials open the tunnel."""
    port = URL(tls_sim.url).port
    config = provider(
        tls_sim.base_url("openai"),
        certs,
        proxy=f"http://{USER}:{SECRET}@127.0.0.1:{auth_proxy.port}",
    )
    env = {"HTTPS_PROXY": f"http://127.0.0.1:{closed_port()}"}
    async with pool_of(fake_clock, env, config) as pool:
        assert await ask_once(pool, fake_clock)
    await auth_proxy.wait_for(f"CONNECT localhost:{port}")


async def test_a_refused_tunnel_is_transient_and_names_no_credential(
    tls_sim, certs, auth_proxy, fake_clock
):
    """Wrong proxy credentials: 407, a transient error that shows neither user nor password."""
    wrong = "wr0ng-passw0rd"
    config = provider(
        tls_sim.base_url("openai"),
        certs,
        proxy=f"http://{USER}:{wrong}@127.0.0.1:{auth_proxy.port}",
    )
    async with pool_of(fake_clock, {}, config) as pool:
        with pytest.raises(ProviderError) as caught:
            await ask_once(pool, fake_clock)
    error = caught.value
    assert error.kind is ErrorKind.TRANSIENT
    assert f"the proxy 127.0.0.1:{auth_proxy.port} refused the tunnel (HTTP 407" in error.message
    shown = f"{error.message} {error!r} {error.details()} {error.__cause__!r}"
    assert wrong not in shown
    assert USER not in shown
    assert list(tls_sim.state.received) == []


async def test_an_unreachable_proxy_is_transient(tls_sim, certs, fake_clock):
    """Nothing listens where the proxy should: a transient error naming the proxy."""
    port = closed_port()
    env = {"HTTPS_PROXY": f"http://{USER}:{SECRET}@127.0.0.1:{port}"}
    async with pool_of(fake_clock, env, provider(tls_sim.base_url("openai"), certs)) as pool:
        with pytest.raises(ProviderError) as caught:
            await ask_once(pool, fake_clock)
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert f"the proxy 127.0.0.1:{port} is unreachable" in caught.value.message
    assert SECRET not in caught.value.message


async def test_proxy_none_ignores_the_environment(tls_sim, certs, fake_clock):
    """``proxy: none`` connects directly although HTTPS_PROXY points at nothing."""
    env = {"HTTPS_PROXY": f"http://127.0.0.1:{closed_port()}"}
    config = provider(tls_sim.base_url("openai"), certs, proxy="none")
    async with pool_of(fake_clock, env, config) as pool:
        assert await ask_once(pool, fake_clock)
        assert pool.client("oa").proxies is None


async def test_plain_http_goes_in_absolute_form(sim, proxy, fake_clock):
    """HTTP_PROXY: a plain-http upstream's requests are sent to the proxy, whole URL first."""
    port = URL(sim.url).port
    async with pool_of(
        fake_clock, {"http_proxy": proxy.url}, provider(sim.base_url("openai"))
    ) as pool:
        assert await ask_once(pool, fake_clock)
    await proxy.wait_for(f"POST 127.0.0.1:{port}/openai/v1/chat/completions")


def test_the_tunnel_runs_on_uvloop(certs, proxy):
    """The daemon's loop (uvloop): CONNECT, then TLS started inside the tunnel, works there too."""

    async def scenario() -> None:
        clock = FakeClock()
        async with start_simulator(
            scenario_spec(), ssl_context=certs.server, url_host="localhost"
        ) as sim:
            port = URL(sim.url).port
            config = provider(sim.base_url("openai"), certs, proxy=proxy.url)
            async with pool_of(clock, {}, config) as pool:
                for _ in range(2):  # the second reuses the tunnel
                    assert await ask_once(pool, clock)
            await proxy.wait_for(f"CONNECT localhost:{port}")
            assert len({r.peer for r in sim.state.received}) == 1

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


# The internal CA.


async def test_an_internal_ca_needs_the_ca_file(tls_sim, fake_clock):
    """Without ``ca_file`` the upstream's certificate is refused: a transient TLS error."""
    async with pool_of(fake_clock, {}, provider(tls_sim.base_url("openai"))) as pool:
        with pytest.raises(ProviderError) as caught:
            await ask_once(pool, fake_clock)
    assert caught.value.kind is ErrorKind.TRANSIENT
    assert "CERTIFICATE_VERIFY_FAILED" in caught.value.message or "certificate" in (
        caught.value.message.lower()
    )


async def test_an_unreadable_ca_file_is_a_config_error(tmp_path, fake_clock):
    """A ca_file that is missing is one ConfigError naming the provider and the file."""
    missing = tmp_path / "nope.pem"
    config = provider("https://localhost:1/v1", ca_file=str(missing))
    async with ProviderPool(default_kinds(plugins=False), fake_clock, environ={}) as pool:
        with pytest.raises(ConfigError, match=f"provider 'oa': cannot read ca_file {missing}"):
            await pool.sync([config])
        with pytest.raises(ConfigError):
            pool.check(config)
        assert pool.ids == []


# Parsing and matching.


def test_proxy_credentials_become_a_basic_header():
    """user:password in the URL: a Proxy-Authorization value; the address shows neither."""
    parsed = parse_proxy(f"http://{USER}:pr%40xy@proxy.corp:3128")
    assert parsed.authorization == "Basic YWxpY2U6cHJAeHk="  # alice:pr@xy
    assert parsed.address == "proxy.corp:3128"
    assert parse_proxy("proxy.corp:8080").address == "proxy.corp:8080"
    assert parse_proxy("http://proxy.corp").port == 80


@pytest.mark.parametrize(
    "url",
    [f"https://{USER}:{SECRET}@proxy:1", f"socks5://{USER}:{SECRET}@proxy:1", "http://:x@/"],
)
def test_bad_proxy_urls_are_refused_without_echoing_them(url):
    """An unsupported or malformed proxy URL is a ValueError that does not repeat it."""
    with pytest.raises(ValueError, match="proxy") as caught:
        proxy_routes(None, {"HTTPS_PROXY": url})
    assert "HTTPS_PROXY" in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("entries", "host", "port", "bypass"),
    [
        ("*", "api.openai.com", 443, True),
        ("localhost", "localhost", 8000, True),
        ("corp.example", "vllm.corp.example", 443, True),
        (".corp.example", "vllm.corp.example", 443, True),
        ("corp.example", "notcorp.example", 443, False),
        ("vllm.corp:8443", "vllm.corp", 8443, True),
        ("vllm.corp:8443", "vllm.corp", 443, False),
        ("10.0.0.0/8", "10.1.2.3", 443, True),
        ("10.0.0.0/8", "11.1.2.3", 443, False),
        ("192.168.1.5", "192.168.1.5", 80, True),
        ("", "anything", 443, False),
    ],
)
def test_no_proxy_matching(entries, host, port, bypass):
    """NO_PROXY: *, exact hosts, domain suffixes (with or without a dot), host:port, IPs, CIDRs."""
    assert NoProxy(entries).matches(host, port) is bypass


def test_lowercase_variables_win_and_absent_means_no_proxy():
    """https_proxy before HTTPS_PROXY; ALL_PROXY as a fallback; none set: no routes at all."""
    env = {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1", "ALL_PROXY": "all:2"}
    routes = proxy_routes(None, env)
    assert routes is not None
    assert routes.https is not None
    assert routes.http is not None
    assert (routes.https.host, routes.http.host) == ("lower", "all")
    assert proxy_routes(None, {"HTTPS_PROXY": ""}) is None
    assert proxy_routes(None, {}) is None
    assert proxy_routes("", {"HTTPS_PROXY": "http://p:1"}) is None


def test_the_provider_setting_is_validated_without_echoing_it():
    """ProviderConfig refuses an https:// or malformed proxy; the error never holds the URL."""
    for bad in (f"https://{USER}:{SECRET}@p:1", f"ftp://{USER}:{SECRET}@p", "http://p:1/path"):
        with pytest.raises(ValueError, match=r"proxy|URL") as caught:
            provider("http://x/v1", proxy=bad)
        assert SECRET not in str(caught.value).split("input_value")[0]
