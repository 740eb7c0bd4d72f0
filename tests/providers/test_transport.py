"""The upstream HTTP client against a scripted TCP server: framing, pooling, timeouts, failures.

The server reads each request (head and ``content-length`` body) and answers with bytes the
test scripts, so every wire shape the client must survive can be produced exactly: chunked,
gzip, EOF-delimited, cut short, malformed, silent, closed while idle. Adapter behaviour
over the client is covered against the simulator in the other provider tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.providers.support import ask, model, options
from yarl import URL

from tokenhub.clock import FakeClock
from tokenhub.errors import ErrorKind, ProviderError
from tokenhub.providers.openai import OpenAIAdapter
from tokenhub.providers.transport import (
    READ_BUFFER,
    AttemptTimeout,
    ClientClosedError,
    HeaderError,
    PoolExhaustedError,
    UpstreamBadHttpError,
    UpstreamBodyCutError,
    UpstreamClient,
    UpstreamDisconnectedError,
    UpstreamResponse,
    UpstreamTimeoutError,
)
from tokenhub.schemas import ProviderConfig
from tokenhub.testing.polling import async_wait_until

ROOMY = AttemptTimeout(total=10.0, connect=5.0, read=5.0)
JSON_OK = (
    b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'
)


@dataclass
class Request:
    """One request as the server read it."""

    head: bytes
    body: bytes
    index: int = 0
    """Its number on its connection (0 for the first)."""

    @property
    def line(self) -> bytes:
        """The request line."""
        return self.head.split(b"\r\n", 1)[0]

    def header(self, name: bytes) -> bytes | None:
        """One header's value (``name`` lowercased), or None."""
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == name:
                return value.strip()
        return None


Answer = Callable[[Request, asyncio.StreamWriter], Awaitable[bool]]
"""Writes the answer to one request; returns whether to keep the connection open."""


@dataclass
class Script:
    """A scripted server: the answer for each request, what it received, connections seen."""

    answer: Answer
    requests: list[Request] = field(default_factory=list)
    connections: int = 0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/v1/chat/completions", scheme: str = "http") -> URL:
        """A URL on this server."""
        return URL(f"{scheme}://127.0.0.1:{self.port}{path}")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection: read each request, answer it as scripted."""
        self.connections += 1
        self.writers.append(writer)
        try:
            for index in range(1_000_000):
                head = await reader.readuntil(b"\r\n\r\n")
                request = Request(head, b"", index)
                length = int(request.header(b"content-length") or 0)
                request.body = await reader.readexactly(length) if length else b""
                self.requests.append(request)
                if not await self.answer(request, writer):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def serve(answer: Answer, ssl_context: ssl.SSLContext | None = None) -> Script:
    """Start a scripted server on a free loopback port (closed after the test)."""
    script = Script(answer)
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0, ssl=ssl_context)
    script.port = server.sockets[0].getsockname()[1]
    _SERVERS.append(server)
    return script


_SERVERS: list[asyncio.Server] = []


@pytest.fixture(autouse=True)
async def _close_servers() -> AsyncIterator[None]:
    yield
    for server in _SERVERS:
        server.close()
    _SERVERS.clear()


def raw(data: bytes, *, keep: bool = True) -> Answer:
    """Answer every request with ``data``."""

    async def answer(_: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(data)
        await writer.drain()
        return keep

    return answer


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    """A client, closed after the test."""
    upstream = UpstreamClient(keepalive_s=30.0)
    try:
        yield upstream
    finally:
        await upstream.close()


async def post(client: UpstreamClient, url: URL, body: bytes = b"{}", **headers: str) -> bytes:
    """POST ``body`` and read the whole answer."""
    response = await client.request(
        "POST",
        url,
        headers={"content-type": "application/json", **headers},
        body=body,
        timeouts=ROOMY,
    )
    try:
        return await response.read()
    finally:
        response.close()


async def send(
    client: UpstreamClient, url: URL, timeouts: AttemptTimeout, *, stream: bool = False
) -> UpstreamResponse:
    """POST an empty JSON object with ``timeouts``; the answer once its head arrived."""
    return await client.request(
        "POST", url, headers={}, body=b"{}", timeouts=timeouts, stream=stream
    )


async def never(_: Request, writer: asyncio.StreamWriter) -> bool:
    """Read the request, never answer."""
    await asyncio.sleep(3600)
    return False


async def arrived(script: Script, count: int = 1) -> None:
    """Wait (with a deadline) until the server has read ``count`` requests."""

    async def enough() -> bool:
        return len(script.requests) >= count

    await async_wait_until(enough, timeout=5.0, what=f"{count} request(s) at the server")


async def test_request_framing_and_answer(client):
    """Method, path with query, host, user agent, length, headers and body reach the server."""
    script = await serve(raw(JSON_OK))
    response = await client.request(
        "POST",
        script.url("/v1/chat?api-version=1"),
        headers={"authorization": "Bearer k", "x-trace": "t"},
        body=b'{"a":1}',
        timeouts=ROOMY,
    )
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert await response.read() == b'{"ok":true}'
    assert response.at_eof()
    request = script.requests[0]
    assert request.line == b"POST /v1/chat?api-version=1 HTTP/1.1"
    assert request.header(b"host") == f"127.0.0.1:{script.port}".encode()
    assert request.header(b"user-agent") == b"tokenhub"
    assert request.header(b"authorization") == b"Bearer k"
    assert request.header(b"x-trace") == b"t"
    assert request.body == b'{"a":1}'


async def test_a_get_has_no_body_and_a_given_user_agent_wins(client):
    """No content-length without a body; a configured user agent replaces tokenhub's."""
    script = await serve(raw(JSON_OK))
    response = await client.request(
        "GET", script.url("/v1/models"), headers={"user-agent": "mine"}, timeouts=ROOMY
    )
    await response.read()
    request = script.requests[0]
    assert request.line == b"GET /v1/models HTTP/1.1"
    assert request.header(b"content-length") is None
    assert request.header(b"user-agent") == b"mine"
    assert request.head.count(b"user-agent") == 1


async def test_keep_alive_reuses_one_connection(client):
    """Sequential requests share a connection; it waits idle in between."""
    script = await serve(raw(JSON_OK))
    for _ in range(5):
        assert await post(client, script.url()) == b'{"ok":true}'
    assert script.connections == 1
    assert (client.in_use, client.idle) == (0, 1)


async def test_connection_close_is_not_reused(client):
    """An answer saying ``connection: close`` leaves no connection to reuse."""
    closing = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok"
    script = await serve(raw(closing, keep=False))
    assert await post(client, script.url()) == b"ok"
    assert await post(client, script.url()) == b"ok"
    assert script.connections == 2


async def test_chunked_and_gzip_bodies_are_decoded(client):
    """Chunked framing is removed and a gzip body inflated."""
    packed = gzip.compress(b'{"hello":"world"}')
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-encoding: gzip\r\n\r\n"
        + f"{len(packed[:10]):x}\r\n".encode()
        + packed[:10]
        + b"\r\n"
        + f"{len(packed[10:]):x}\r\n".encode()
        + packed[10:]
        + b"\r\n0\r\n\r\n"
    )
    script = await serve(raw(chunked))
    assert await post(client, script.url()) == b'{"hello":"world"}'
    assert await post(client, script.url()) == b'{"hello":"world"}'
    assert script.connections == 1


async def test_a_body_delimited_by_the_end_of_the_connection(client):
    """No length and no chunking: the body runs to the connection's end (HTTP/1.0 style)."""
    script = await serve(
        raw(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil eof", keep=False)
    )
    assert await post(client, script.url()) == b"until eof"


async def test_a_body_cut_short_is_an_error(client):
    """Fewer bytes than content-length, then the connection closes."""
    script = await serve(raw(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort", keep=False))
    with pytest.raises(UpstreamBodyCutError, match="cut the body short"):
        await post(client, script.url())
    assert client.in_use == 0


async def test_malformed_http_is_an_error(client):
    """Bytes that are not an HTTP answer."""
    script = await serve(raw(b"SMTP ready\r\n\r\n"))
    with pytest.raises(UpstreamBadHttpError, match="malformed HTTP"):
        await post(client, script.url())
    assert client.in_use == 0


async def test_closed_before_answering_is_an_error(client):
    """A fresh connection closed without a byte of answer (not resent: it was not stale)."""
    script = await serve(raw(b"", keep=False))
    with pytest.raises(UpstreamDisconnectedError, match="closed the connection"):
        await post(client, script.url())
    assert len(script.requests) == 1


async def test_a_stale_pooled_connection_is_replaced_once(client):
    """The upstream closes a kept-alive connection as the next request arrives on it.

    That request never reached the upstream's application, so it is sent once more on a
    new connection; the caller sees only the answer.
    """

    async def closes_reused(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.index > 0:  # its keep-alive timeout ran out just now
            return False
        writer.write(JSON_OK)
        await writer.drain()
        return True

    script = await serve(closes_reused)
    assert await post(client, script.url()) == b'{"ok":true}'
    assert await post(client, script.url(), b'{"second":1}') == b'{"ok":true}'
    assert script.connections == 2
    assert [r.body for r in script.requests] == [b"{}", b'{"second":1}', b'{"second":1}']


async def test_silence_after_the_request_times_out(client):
    """No first byte within ``read``: a timeout, and the connection is not reused."""
    script = await serve(raw(b""))
    started = asyncio.get_running_loop().time()
    with pytest.raises(UpstreamTimeoutError, match=r"no first byte within 0\.20 s"):
        await send(client, script.url(), AttemptTimeout(total=30.0, connect=1.0, read=0.2))
    # Ample for a 0.2 s limit on a loaded machine, far below the 30 s total.
    assert asyncio.get_running_loop().time() - started < 10.0
    assert (client.in_use, client.idle) == (0, 0)


async def test_first_byte_bounds_only_the_wait_for_the_first_byte(client):
    """``first_byte`` cuts a silent upstream early; after the first byte, ``read`` applies."""
    head, body = JSON_OK[:-11], JSON_OK[-11:]

    async def pauses_after_the_head(_: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(head)
        await writer.drain()
        await asyncio.sleep(0.6)  # longer than first_byte, shorter than read
        writer.write(body)
        await writer.drain()
        return False

    timeouts = AttemptTimeout(total=10.0, connect=1.0, read=5.0, first_byte=0.3)
    script = await serve(pauses_after_the_head)
    response = await send(client, script.url(), timeouts)
    try:
        assert await response.read() == b'{"ok":true}'
    finally:
        response.close()
    silent = await serve(raw(b""))
    started = asyncio.get_running_loop().time()
    with pytest.raises(UpstreamTimeoutError, match=r"no first byte within 0\.30 s"):
        await send(client, silent.url(), timeouts)
    assert asyncio.get_running_loop().time() - started < 4.0  # far below read (5 s)
    assert (client.in_use, client.idle) == (0, 0)


async def test_silence_mid_body_times_out_but_steady_data_does_not(client):
    """``read`` bounds each silence, not the whole answer; ``total`` bounds the whole."""

    async def trickle(_: Request, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(6):
            writer.write(b"1\r\nx\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)
        await asyncio.sleep(3600)  # then silence
        return False

    script = await serve(trickle)
    response = await send(client, script.url(), AttemptTimeout(total=10.0, connect=1.0, read=0.2))
    received = b""
    while len(received) < 6:
        received += await response.readany()
    with pytest.raises(UpstreamTimeoutError, match="silent upstream"):
        await response.readany()
    assert received == b"x" * 6  # 6 x 50 ms of data outlived the 200 ms silence limit

    script = await serve(trickle)
    response = await send(client, script.url(), AttemptTimeout(total=0.15, connect=1.0, read=5.0))
    with pytest.raises(UpstreamTimeoutError, match="attempt's time"):
        await response.read()


async def test_the_connection_limit_queues_and_times_out():
    """Beyond ``limit`` a request waits for a connection, within its connect timeout.

    Past that it fails with ``PoolExhaustedError``: tokenhub's limit, neither an ``OSError``
    nor a ``TimeoutError`` the classifier would blame on the upstream.
    """
    release = asyncio.Event()

    async def slow(_: Request, writer: asyncio.StreamWriter) -> bool:
        await release.wait()
        writer.write(JSON_OK)
        await writer.drain()
        return True

    script = await serve(slow)
    client = UpstreamClient(limit=2)
    try:
        first = [asyncio.create_task(post(client, script.url())) for _ in range(3)]

        await arrived(script, 2)
        assert client.in_use == 2
        with pytest.raises(PoolExhaustedError, match="all 2 connection slots") as caught:
            await send(client, script.url(), AttemptTimeout(total=5.0, connect=0.1, read=5.0))
        assert not isinstance(caught.value, OSError | TimeoutError)
        release.set()
        assert await asyncio.gather(*first) == [b'{"ok":true}'] * 3
        assert script.connections == 2  # the third waited and reused one
        assert client.in_use == 0
    finally:
        await client.close()


async def test_a_refused_connection_is_an_os_error(client):
    """Nothing listens: the OS error comes through for the classifier."""
    script = await serve(raw(JSON_OK))
    _SERVERS[-1].close()
    await _SERVERS[-1].wait_closed()
    with pytest.raises(OSError):
        await post(client, script.url())
    assert client.in_use == 0


async def test_a_line_break_in_a_header_is_refused_before_sending(client):
    """A credential read with its newline cannot inject a header; nothing is sent."""
    script = await serve(raw(JSON_OK))
    with pytest.raises(HeaderError, match="'authorization' holds a line break"):
        await client.request(
            "POST",
            script.url(),
            headers={"authorization": "Bearer sk-x\r\nx-evil: 1"},
            body=b"{}",
            timeouts=ROOMY,
        )
    assert script.requests == []


async def test_the_adapter_reports_a_header_line_break_as_an_auth_error(client):
    """Through an adapter: the credential is unusable, so the error kind is ``auth``."""
    script = await serve(raw(JSON_OK))
    config = ProviderConfig(id="nl", type="openai", base_url=str(script.url("/v1")))
    adapter = OpenAIAdapter(config, client, FakeClock())
    clock = FakeClock()
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(ask(), model("gpt-4o"), options(clock, api_key="sk-key\n"))
    assert caught.value.kind is ErrorKind.AUTH
    assert "sk-key" not in str(caught.value)


async def test_large_bodies_pause_reading_and_arrive_whole(client):
    """An answer larger than the read buffer, read slowly, arrives byte for byte."""
    payload = bytes(range(256)) * (4 * READ_BUFFER // 256)
    head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(payload)}\r\n\r\n".encode()
    script = await serve(raw(head + payload))
    response = await client.request("GET", script.url(), headers={}, timeouts=ROOMY)
    received = bytearray()
    while chunk := await response.readany():
        received += chunk
        await asyncio.sleep(0)
    assert bytes(received) == payload
    assert await post(client, script.url()) == payload  # the connection was reusable
    assert script.connections == 1


async def test_idle_connections_expire_after_keepalive():
    """An idle connection closes once ``keepalive_s`` has passed."""
    script = await serve(raw(JSON_OK))
    client = UpstreamClient(keepalive_s=0.1)
    try:
        await post(client, script.url())
        assert client.idle == 1

        async def expired() -> bool:
            return client.idle == 0

        await async_wait_until(expired, timeout=5.0, what="the idle connection to expire")
        await post(client, script.url())
        assert script.connections == 2
    finally:
        await client.close()


async def test_close_fails_requests_in_progress():
    """Closing the client ends a waiting request with ``ClientClosedError``."""
    script = await serve(never)
    client = UpstreamClient()
    pending = asyncio.create_task(post(client, script.url()))

    await arrived(script)
    await client.close()
    with pytest.raises((ClientClosedError, UpstreamDisconnectedError)):
        await pending
    with pytest.raises(ClientClosedError):
        await post(client, script.url())


async def test_a_cancelled_request_frees_its_connection(client):
    """Cancelling mid-answer closes that connection and frees its slot."""
    script = await serve(never)
    pending = asyncio.create_task(post(client, script.url()))

    await arrived(script)
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    assert (client.in_use, client.idle) == (0, 0)


def _certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_https_is_verified_against_the_trust_store(tmp_path):
    """TLS with a certificate the context trusts works; the default store refuses it."""
    cert_path, key_path = _certificate(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_path, key_path)
    script = await serve(raw(JSON_OK), server_context)
    trusting = UpstreamClient(ssl_context=ssl.create_default_context(cafile=str(cert_path)))
    default = UpstreamClient()
    try:
        assert await post(trusting, script.url(scheme="https")) == b'{"ok":true}'
        with pytest.raises(ssl.SSLCertVerificationError):
            await post(default, script.url(scheme="https"))
    finally:
        await trusting.close()
        await default.close()


def test_the_client_runs_on_uvloop():
    """The daemon's loop: framing, keep-alive and streaming reads work there too."""

    async def scenario() -> None:
        script = await serve(raw(JSON_OK))
        client = UpstreamClient()
        try:
            for _ in range(3):
                assert await post(client, script.url()) == b'{"ok":true}'
            assert script.connections == 1
        finally:
            await client.close()
            for server in _SERVERS:
                server.close()
            _SERVERS.clear()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario())


async def test_streams_leave_the_reserve_to_short_calls():
    """Streams hold at most ``stream_limit``; a short call still gets a slot beside them.

    A third stream waits and, past its connect timeout, fails with ``PoolExhaustedError``
    (and the exhaustion hook fires); the short call meanwhile is answered at once.
    """
    release = asyncio.Event()

    async def answer(request: Request, writer: asyncio.StreamWriter) -> bool:
        if b"/stream" in request.line:
            await release.wait()
        writer.write(JSON_OK)
        await writer.drain()
        return True

    script = await serve(answer)
    exhausted: list[str] = []
    client = UpstreamClient(limit=3, stream_limit=2, on_exhausted=lambda: exhausted.append("x"))
    quick = AttemptTimeout(total=5.0, connect=0.1, read=5.0)
    try:
        streams = [
            asyncio.create_task(send(client, script.url("/stream"), ROOMY, stream=True))
            for _ in range(2)
        ]
        await arrived(script, 2)
        assert (client.in_use, client.streams) == (2, 2)
        with pytest.raises(PoolExhaustedError, match="all 2 streaming connection slots"):
            await send(client, script.url("/stream"), quick, stream=True)
        assert exhausted == ["x"]
        short = await send(client, script.url("/short"), quick)
        assert await short.read() == b'{"ok":true}'
        release.set()
        for task in streams:
            assert await (await task).read() == b'{"ok":true}'
        assert (client.in_use, client.streams) == (0, 0)
    finally:
        await client.close()


async def test_a_freed_stream_slot_goes_to_a_waiting_stream():
    """A stream waiting for the streaming share gets the slot a finished stream frees."""
    release = asyncio.Event()

    async def answer(request: Request, writer: asyncio.StreamWriter) -> bool:
        if request.index == 0 and b"/first" in request.line:
            await release.wait()
        writer.write(JSON_OK)
        await writer.drain()
        return True

    script = await serve(answer)
    client = UpstreamClient(limit=5, stream_limit=1)
    try:
        first = asyncio.create_task(send(client, script.url("/first"), ROOMY, stream=True))
        await arrived(script, 1)
        second = asyncio.create_task(send(client, script.url("/second"), ROOMY, stream=True))

        async def queued() -> bool:
            return client.waiting == 1

        await async_wait_until(queued, timeout=5.0, what="the second stream to wait")
        assert client.streams == 1
        release.set()
        assert await (await first).read() == b'{"ok":true}'
        assert await (await second).read() == b'{"ok":true}'
        assert (client.streams, client.waiting, script.connections) == (0, 0, 1)
    finally:
        await client.close()
