"""The HTTP adapter every built-in kind shares: endpoints, retries, errors, rate limits.

A kind (``openai``, ``anthropic``, ``vllm``) supplies only what differs: paths, auth
headers, wire translation, its stream framing and its rate-limit headers. Everything on
the hot path avoids per-call churn: URLs and static headers are built once, bodies are
orjson bytes, and nothing is validated twice.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

import orjson
from yarl import URL

from tokenhub.clock import Clock
from tokenhub.errors import ErrorKind, ProviderError, UntranslatableFieldError
from tokenhub.providers.adapter_hooks import KindHooks
from tokenhub.providers.base import CallOptions, CallResult, EndpointState, RateLimitSnapshot
from tokenhub.providers.call import API_KEY_PLACEHOLDER, Call, CallBuilder, join_url
from tokenhub.providers.classify import malformed, response_error, transport_error
from tokenhub.providers.endpoints import DEFAULT_HEALTH, Endpoint, EndpointSet, HealthPolicy
from tokenhub.providers.http import (
    DEFAULT_POLICY,
    Retrier,
    RetryPolicy,
    Sleep,
    attempt_timeout,
)
from tokenhub.providers.ratelimit_headers import wait_hint
from tokenhub.providers.stream import HttpStream
from tokenhub.providers.transport import (
    AttemptTimeout,
    HeaderError,
    PoolExhaustedError,
    UpstreamClient,
    UpstreamResponse,
)
from tokenhub.schemas import ModelConfig, ProviderConfig
from tokenhub.types import ChatRequest, ChatResponse, FieldNote

T = TypeVar("T")

__all__ = ["API_KEY_PLACEHOLDER", "HttpAdapter", "join_url"]

_OK_MIN, _OK_MAX = 200, 300
_BUSY_STATUSES = frozenset({429, 503})
_VERSION_HEADERS = frozenset({"anthropic-version"})
"""Vendor headers that only say which version of their API the client speaks: dropped
silently across formats, since the translation speaks the upstream's own version."""


class HttpAdapter(KindHooks):
    """A ``ProviderAdapter`` over an ``UpstreamClient``; subclasses fill in the wire hooks."""

    def __init__(
        self,
        config: ProviderConfig,
        client: UpstreamClient,
        clock: Clock,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        health: HealthPolicy = DEFAULT_HEALTH,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._clock = clock
        self._policy = policy
        self._retrier = Retrier(clock, policy, sleep=sleep, rng=rng)
        members = [
            Endpoint(u, join_url(u, self.chat_path), join_url(u, self.models_path))
            for u in config.urls
        ]
        self._endpoints = EndpointSet(members, clock, health)
        self._busy_default_s = health.base_cooldown_s
        self._remaining = frozenset(name.encode("latin-1") for name in self.remaining_headers)
        static = {
            name.lower(): value
            for name, value in {
                "content-type": "application/json",
                **self.default_headers(),
                **config.headers,
            }.items()
        }
        self._call = CallBuilder(static, self.auth_headers).build
        self._ratelimit: RateLimitSnapshot | None = None
        self._unparsed: tuple[UpstreamResponse, float, float] | None = None

    # The ProviderAdapter protocol.

    async def complete(
        self, request: ChatRequest, model: ModelConfig, options: CallOptions
    ) -> CallResult:
        """Send a non-streaming request; raise a classified ProviderError on failure."""
        if request.stream:
            request = replace(request, stream=False)
        body, notes = self._body(request, model)
        call = self._call(options, orjson.dumps(body), self._vendor(request))
        whole = self._same_format(request)
        result, retries = await self._run(lambda: self._complete_once(call, whole), options)
        result.retries = retries
        result.response.notes[:0] = notes
        return result

    async def open_stream(
        self, request: ChatRequest, model: ModelConfig, options: CallOptions
    ) -> HttpStream:
        """Start a streaming request and read to its first event; retried until then."""
        if not request.stream:
            request = replace(request, stream=True)
        body, notes = self._body(request, model)
        call = self._call(options, orjson.dumps(body), self._vendor(request))
        stream, retries = await self._run(lambda: self._open_once(call), options)
        stream.retries = retries
        stream.notes = notes
        return stream

    async def list_models(self, options: CallOptions) -> list[str]:
        """Model ids the provider's models endpoint lists (every page)."""
        call = self._call(options)
        ids, _ = await self._run(lambda: self._list_once(call), options)
        return ids

    async def probe(self, options: CallOptions) -> list[EndpointState]:
        """GET each endpoint's model list concurrently and record the outcome as its health."""
        call = self._call(options)
        await asyncio.gather(*(self._probe_one(e, call) for e in self._endpoints.members))
        return self._endpoints.states()

    def endpoints(self) -> list[EndpointState]:
        """Current per-endpoint health (copies)."""
        return self._endpoints.states()

    @property
    def ratelimit(self) -> RateLimitSnapshot | None:
        """The last rate-limit headers seen from this provider (parsed on first read)."""
        if self._unparsed is not None:
            resp, now, observed_at = self._unparsed
            self._unparsed = None
            self._ratelimit = self.snapshot_at(resp.headers, now, observed_at) or self._ratelimit
        return self._ratelimit

    def in_flight(self) -> int:
        """Requests open on this adapter right now."""
        return self._endpoints.in_flight()

    # One attempt of each operation.

    async def _complete_once(self, call: Call, whole: bool) -> CallResult:
        """One try; ``whole`` keeps the upstream's answer as it came (a same-format client)."""
        # What EndpointSet.using() does, spelled out: this runs on every request.
        endpoint = self._endpoints.acquire()
        try:
            start = self._clock.monotonic()
            raw, snapshot = await self._fetch("POST", endpoint.chat_url, call, "the answer")
            response = self._parse_raw(raw, whole=whole)
            latency = self._clock.monotonic() - start
        except BaseException as exc:
            self._endpoints.release_failed(endpoint, exc)
            self._endpoint_busy(endpoint, exc)
            raise
        self._endpoints.release(endpoint, None)
        return CallResult(response, endpoint.url, latency, ratelimit=snapshot)

    async def _open_once(self, call: Call) -> HttpStream:
        endpoint = self._endpoints.acquire()
        started = self._clock.monotonic()
        try:
            resp, snapshot = await self._post_stream(endpoint, call)
        except BaseException as exc:
            self._endpoints.release_failed(endpoint, exc)
            self._endpoint_busy(endpoint, exc)
            raise
        stream = HttpStream(
            resp,
            endpoint,
            self._endpoints,
            self.decoder(),
            lambda sse, decoder: self.frame(sse, decoder, call.secret),
            provider=self.config.id,
            ratelimit=snapshot,
            wire=self.wire,
        )
        await stream.prime()
        stream.latency_s = self._clock.monotonic() - started
        return stream

    async def _list_once(self, call: Call) -> list[str]:
        ids: list[str] = []
        cursor: str | None = None
        with self._endpoints.using() as endpoint:
            while True:
                raw, _ = await self._fetch("GET", self.page(endpoint, cursor), call, "models")
                body = self._load(raw, "model list")
                ids.extend(self._model_ids(body))
                cursor = self.next_cursor(body)
                if cursor is None:
                    return ids

    async def _probe_one(self, endpoint: Endpoint, call: Call) -> None:
        error: ProviderError | None = None
        try:
            await self._fetch("GET", endpoint.models_url, call, "the probe")
        except ProviderError as exc:
            error = exc
        self._endpoints.record(endpoint, error)

    # Transport and translation helpers.

    async def _fetch(
        self, method: str, url: URL, call: Call, what: str
    ) -> tuple[bytes, RateLimitSnapshot | None]:
        """Send and read a whole answer; raise the classified error for a non-2xx status."""
        timeout = self._timeout(call)
        body = call.body if method == "POST" else None
        try:
            resp = await self._send(method, url, call, body, timeout)
            try:
                raw = await resp.read()
            finally:
                resp.close()
        except (OSError, TimeoutError) as exc:
            phase = f"waiting for {what}"
            raise transport_error(exc, provider=self.config.id, phase=phase) from exc
        status = resp.status
        snapshot = self._observe(resp)
        if not _OK_MIN <= status < _OK_MAX:
            raise self._refused(status, raw, call, snapshot)
        return raw, snapshot

    async def _post_stream(
        self, endpoint: Endpoint, call: Call
    ) -> tuple[UpstreamResponse, RateLimitSnapshot | None]:
        """Send a streaming request; raise the classified error unless it is accepted."""
        timeout = self._timeout(call)
        try:
            resp = await self._send(
                "POST", endpoint.chat_url, call, call.body, timeout, stream=True
            )
        except (OSError, TimeoutError) as exc:
            phase = "opening the stream"
            raise transport_error(exc, provider=self.config.id, phase=phase) from exc
        snapshot = self._observe(resp)
        if not _OK_MIN <= resp.status < _OK_MAX:
            raise await self._stream_refused(resp, call, snapshot)
        return resp, snapshot

    async def _send(
        self,
        method: str,
        url: URL,
        call: Call,
        body: bytes | None,
        timeouts: AttemptTimeout,
        *,
        stream: bool = False,
    ) -> UpstreamResponse:
        """One request through the client; a header that cannot be sent is an auth error.

        Every connection slot taken is ``overloaded``: tokenhub's limit, not the upstream's.
        """
        try:
            return await self._client.request(
                method, url, headers=call.headers, body=body, timeouts=timeouts, stream=stream
            )
        except HeaderError as exc:
            raise ProviderError(ErrorKind.AUTH, str(exc), provider=self.config.id) from None
        except PoolExhaustedError as exc:
            message = f"tokenhub's connections to the provider are all in use ({exc})"
            raise ProviderError(ErrorKind.OVERLOADED, message, provider=self.config.id) from None

    async def _stream_refused(
        self, resp: UpstreamResponse, call: Call, snapshot: RateLimitSnapshot | None
    ) -> ProviderError:
        try:
            raw = await resp.read()
        except (OSError, TimeoutError):
            raw = b""
        finally:
            resp.close()
        return self._refused(resp.status, raw, call, snapshot)

    def _refused(
        self, status: int, raw: bytes, call: Call, snapshot: RateLimitSnapshot | None
    ) -> ProviderError:
        return response_error(
            status,
            raw,
            secret=call.secret,
            provider=self.config.id,
            retry_after=wait_hint(snapshot),
        )

    def _endpoint_busy(self, endpoint: Endpoint, exc: BaseException) -> None:
        """A single server's 429/503 cools that endpoint (``busy_is_per_endpoint`` kinds).

        While another endpoint is available the failure is transient (the next try goes
        there); when none is, the model waits as rate-limited until the first comes back.
        """
        if not (
            self.busy_is_per_endpoint
            and isinstance(exc, ProviderError)
            and exc.upstream_status in _BUSY_STATUSES
        ):
            return
        wait = exc.retry_after if exc.retry_after is not None else self._busy_default_s
        left = self._endpoints.cool(endpoint, wait)
        exc.kind = ErrorKind.RATE_LIMITED if left > 0 else ErrorKind.TRANSIENT
        exc.retry_after = left if left > 0 else None

    def _timeout(self, call: Call) -> AttemptTimeout:
        try:
            return attempt_timeout(
                call.deadline,
                self._clock.monotonic(),
                first_byte_s=self.config.timeout_s,
                connect_s=self._policy.connect_s,
                adaptive_first_byte_s=call.first_byte_s,
            )
        except ProviderError as exc:
            exc.provider = self.config.id
            raise

    def _observe(self, resp: UpstreamResponse) -> RateLimitSnapshot | None:
        # Successful answers are the hot path: keep their headers and parse them only if
        # somebody reads ``ratelimit`` (health view, metrics scrape). Errors parse now,
        # because a 429's wait comes from them.
        if _OK_MIN <= resp.status < _OK_MAX:
            now, observed_at = self._clock.time(), self._clock.monotonic()
            if self._remaining and resp.any_header_is(self._remaining, b"0"):
                # A limit is used up: the router must hold the model until its reset.
                self._unparsed = None
                self._ratelimit = self.snapshot_at(resp.headers, now, observed_at)
                return self._ratelimit
            self._unparsed = (resp, now, observed_at)
            return None
        self._unparsed = None
        snapshot = self.snapshot(resp.headers)
        if snapshot is not None:
            self._ratelimit = snapshot
        return snapshot

    def _load(self, raw: bytes, what: str) -> Any:
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise malformed(self.config.id, what) from None

    def _parse_raw(self, raw: bytes, *, whole: bool) -> ChatResponse:
        body = self._load(raw, "response body")
        try:
            response = self.parse(body)
        except ProviderError as exc:
            exc.provider = self.config.id
            raise
        if whole:
            response.raw = body
        return response

    # Same format: the client's body and vendor headers forwarded.

    def _same_format(self, request: ChatRequest) -> bool:
        source = request.source
        return source is not None and source.format == self.wire

    def _body(
        self, request: ChatRequest, model: ModelConfig
    ) -> tuple[dict[str, Any], list[FieldNote]]:
        """The client's own body for a same-format client, else the translation and its notes.

        Strict requests refuse (400) what the translation would drop.
        """
        source = request.source
        if source is not None and self._same_format(request):
            return self.forward(source.body, model, stream=request.stream), []
        notes = list(request.notes)
        if source is not None:
            notes.extend(
                FieldNote(
                    f"{name} header", f"a {source.format} header; {self.wire} has no such header"
                )
                for name in source.headers
                if name not in _VERSION_HEADERS
            )
        body = self.render(request, model, notes)
        if notes and request.strict:
            raise UntranslatableFieldError(notes[0].field, notes[0].reason, self.wire or self.kind)
        return body, notes

    def _vendor(self, request: ChatRequest) -> dict[str, str] | None:
        """The client's vendor headers this upstream understands (same format only)."""
        source = request.source
        if source is None or not source.headers or not self._same_format(request):
            return None
        return {k: v for k, v in source.headers.items() if k in self.vendor_headers}

    def _model_ids(self, body: Any) -> list[str]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise malformed(self.config.id, "model list")
        return [str(m["id"]) for m in data if isinstance(m, dict) and "id" in m]

    async def _run(
        self, attempt: Callable[[], Awaitable[T]], options: CallOptions
    ) -> tuple[T, int]:
        try:
            return await self._retrier.run(
                attempt,
                deadline=options.deadline,
                max_retries=options.max_retries,
                on_retry=options.on_retry,
            )
        except ProviderError as exc:
            exc.provider = self.config.id
            raise
