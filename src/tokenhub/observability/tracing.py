"""W3C trace context in and out, and optional OpenTelemetry export over OTLP.

Without an OTLP endpoint, tokenhub still takes part in a trace: an incoming
``traceparent`` is kept, and each upstream attempt is sent a child ``traceparent`` (same
trace id, a fresh span id), so the provider's logs line up with the caller's. With
``tracing.otlp_endpoint`` set, spans are recorded with the OpenTelemetry SDK — one per
request, one per routing decision, one per upstream attempt — and exported in batches
(never on the request path). The SDK is imported only when configured.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any, Protocol, Self

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True, slots=True)
class TraceParent:
    """A parsed W3C ``traceparent`` (version 00)."""

    trace_id: str
    span_id: str
    flags: str

    def child(self) -> str:
        """A ``traceparent`` for a new child span of this one."""
        return f"00-{self.trace_id}-{secrets.token_hex(8)}-{self.flags}"


def parse_traceparent(value: str | None) -> TraceParent | None:
    """The trace context in a ``traceparent`` header, or None when absent or invalid."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None or set(match.group(1)) == {"0"} or set(match.group(2)) == {"0"}:
        return None
    return TraceParent(match.group(1), match.group(2), match.group(3))


_INCOMING: ContextVar[dict[str, str] | None] = ContextVar("tokenhub_trace_headers", default=None)


class Span(Protocol):
    """The part of a span tokenhub uses."""

    def set_attribute(self, key: str, value: Any) -> None:
        """Attach an attribute."""
        ...


class _NoSpan:
    def set_attribute(self, key: str, value: Any) -> None:
        """Nothing to record."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


_NO_SPAN = _NoSpan()


class _IncomingScope:
    """Keeps a request's trace headers in context for its duration.

    A class rather than a generator context manager: it runs on every request.
    """

    __slots__ = ("_incoming", "_token")

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._incoming = {k: headers[k] for k in (TRACEPARENT, TRACESTATE) if k in headers}
        self._token: Token[dict[str, str] | None] | None = None

    def __enter__(self) -> Span:
        self._token = _INCOMING.set(self._incoming)
        return _NO_SPAN

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _INCOMING.reset(self._token)


class Tracing:
    """Trace propagation without recording spans (the default)."""

    enabled = False

    def request(
        self,
        name: str,  # noqa: ARG002 - same signature as the recording tracer
        headers: Mapping[str, str],
        **attrs: Any,  # noqa: ARG002 - same signature as the recording tracer
    ) -> contextlib.AbstractContextManager[Span]:
        """Scope for one incoming request; remembers its trace headers."""
        return _IncomingScope(headers)

    def span(self, name: str, **attrs: Any) -> contextlib.AbstractContextManager[Span]:  # noqa: ARG002 - same signature as the recording tracer
        """A child span (routing decision, upstream attempt); here a shared no-op."""
        return _NO_SPAN

    def outgoing(self) -> dict[str, str]:
        """Headers to send upstream: a child ``traceparent`` of the incoming one."""
        incoming = _INCOMING.get()
        if not incoming:  # the caller sent no trace context: the common case, kept short
            return {}
        parent = parse_traceparent(incoming.get(TRACEPARENT))
        if parent is None:
            return {}
        out = {TRACEPARENT: parent.child()}
        if TRACESTATE in incoming:
            out[TRACESTATE] = incoming[TRACESTATE]
        return out

    def shutdown(self) -> None:
        """Flush and stop (nothing to do without an exporter)."""


class OtelTracing(Tracing):
    """Spans recorded with the OpenTelemetry SDK and exported over OTLP/HTTP."""

    enabled = True

    def __init__(
        self, endpoint: str | None, service_name: str, sample_ratio: float, exporter: Any = None
    ) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service_name}),
            sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
        )
        self._provider.add_span_processor(
            BatchSpanProcessor(exporter or OTLPSpanExporter(endpoint=endpoint))
        )
        self._tracer = self._provider.get_tracer("tokenhub")
        self._propagator = TraceContextTextMapPropagator()

    @contextlib.contextmanager
    def request(self, name: str, headers: Mapping[str, str], **attrs: Any) -> Iterator[Span]:
        """A server span continuing the caller's trace, when it sent one."""
        from opentelemetry.trace import SpanKind

        parent = self._propagator.extract(carrier=dict(headers))
        with self._tracer.start_as_current_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attrs
        ) as span:
            yield span

    def span(self, name: str, **attrs: Any) -> contextlib.AbstractContextManager[Span]:
        """A child of the current span."""
        return self._tracer.start_as_current_span(name, attributes=attrs)

    def outgoing(self) -> dict[str, str]:
        """The current span's context as W3C headers."""
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return carrier

    def shutdown(self) -> None:
        """Export what is buffered and stop."""
        self._provider.shutdown()
