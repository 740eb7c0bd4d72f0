"""The one Prometheus registry of a tokenhub process and every metric in it.

Each app gets its own ``CollectorRegistry`` (never the global one), so tests and several
apps in one process do not share counters. Label sets are bounded: route templates,
model and provider ids from the registry, modes, outcomes and error kinds — never a
request id, key, prompt or other free text. State that already lives elsewhere (health,
rate limits, vault) is read at scrape time by a collector, costing requests nothing.
Every metric here is documented in docs/METRICS.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from tokenhub import __version__
from tokenhub.observability.fast_metrics import (
    FastCollector,
    FastCounter,
    FastGauge,
    FastHistogram,
)

# The *_created series double the sample count for no operational value.
disable_created_metrics()  # type: ignore[no-untyped-call]  # prometheus_client leaves this function unannotated

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)


@dataclass(slots=True)
class StateSample:
    """One gauge sample read at scrape time."""

    labels: dict[str, str]
    value: float


StateSource = Callable[[], Iterable[tuple[str, str, list[str], list[StateSample]]]]


class _StateCollector(Collector):
    def __init__(self, source: StateSource) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        for name, doc, labels, samples in self._source():
            family = GaugeMetricFamily(name, doc, labels=labels)
            for sample in samples:
                family.add_metric([sample.labels[k] for k in labels], sample.value)
            yield family

    def describe(self) -> Iterable[Metric]:
        return []


class Metrics:
    """Holds the registry and the metric objects the rest of tokenhub records into."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._http()
        self._gateway()
        self._writer()
        fast = [
            m for m in vars(self).values() if isinstance(m, FastCounter | FastHistogram | FastGauge)
        ]
        self.registry.register(FastCollector(fast))

    def _http(self) -> None:
        r = self.registry
        Info("tokenhub_build", "Tokenhub version.", registry=r).info({"version": __version__})
        self.http_requests = FastCounter(
            "tokenhub_http_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
        )
        self.http_duration = FastHistogram(
            "tokenhub_http_request_duration_seconds",
            "Time from request received to response returned, by route template.",
            ["route"],
            LATENCY_BUCKETS,
        )
        self.in_flight = FastGauge(
            "tokenhub_http_in_flight_requests", "HTTP requests being handled now."
        )

    def _gateway(self) -> None:
        self.requests = FastCounter(
            "tokenhub_requests_total",
            "Consumer requests by endpoint, mode, answering model and provider, and outcome.",
            ["endpoint", "mode", "model", "provider", "outcome"],
        )
        self.request_duration = FastHistogram(
            "tokenhub_request_duration_seconds",
            "Consumer request time including every attempt (streams: to the last byte).",
            ["endpoint"],
            LATENCY_BUCKETS,
        )
        self.upstream_duration = FastHistogram(
            "tokenhub_upstream_duration_seconds",
            "Time of one upstream attempt (streams: to the first event).",
            ["provider", "model", "outcome"],
            LATENCY_BUCKETS,
        )
        self.ttft = FastHistogram(
            "tokenhub_time_to_first_token_seconds",
            "Streams: time from request received to the first event sent to the client.",
            ["provider", "model"],
            TTFT_BUCKETS,
        )
        self.streams = FastCounter(
            "tokenhub_streams_total",
            "Streams served, by path: passthrough (upstream bytes relayed) or translated.",
            ["path"],
        )
        self.tokens = FastCounter(
            "tokenhub_tokens_total",
            "Tokens reported by providers, by direction (input or output).",
            ["direction", "model", "provider"],
        )
        self.cost = FastCounter(
            "tokenhub_cost_usd_total",
            "Cost in US dollars from provider-reported usage and model prices.",
            ["model", "provider"],
        )
        self.failovers = FastCounter(
            "tokenhub_failovers_total",
            "Attempts that failed and moved the request on, by error kind.",
            ["reason"],
        )
        self.escalations = FastCounter(
            "tokenhub_escalations_total",
            "Failovers to a larger-context model, by reason.",
            ["reason"],
        )
        self.panics = FastCounter(
            "tokenhub_routing_panic_total",
            "Requests routed in panic mode (every eligible model ejected), by mode.",
            ["mode"],
        )
        self.retries = FastCounter(
            "tokenhub_upstream_retries_total",
            "Retries made by adapters (same upstream, after a transient error).",
            ["provider"],
        )
        self.overloaded = FastCounter(
            "tokenhub_overloaded_total",
            "Upstream calls that found every connection slot of the provider taken (tokenhub's"
            " own limit, not the provider's fault).",
            ["provider"],
        )
        self.events_dropped = FastCounter(
            "tokenhub_events_dropped_total",
            "Events a slow event-stream subscriber missed.",
        )

    def _writer(self) -> None:
        r = self.registry
        self.writer_queue_depth = Gauge(
            "tokenhub_writer_queue_depth",
            "Rows waiting in the background writer's queue.",
            registry=r,
        )
        self.writer_rows_written = Counter(
            "tokenhub_writer_rows_written_total",
            "Rows the background writer committed, by table.",
            ["table"],
            registry=r,
        )
        self.writer_rows_dropped = Counter(
            "tokenhub_writer_rows_dropped_total",
            "Rows dropped because the writer queue was full or a flush failed; should stay 0.",
            ["table"],
            registry=r,
        )
        self.writer_flush_duration = Histogram(
            "tokenhub_writer_flush_duration_seconds",
            "Time one background-writer flush transaction took.",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def count_http(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP response and its duration."""
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_duration.labels(route).observe(seconds)

    def add_state_source(self, source: StateSource) -> None:
        """Expose gauges computed from live state at scrape time."""
        self.registry.register(_StateCollector(source))

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)
