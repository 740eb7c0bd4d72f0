"""The one Prometheus registry of a tokenhub process and every metric in it.

Each app gets its own ``CollectorRegistry`` (never the global one), so tests and several
apps in one process do not share counters. Label sets are bounded: never a request id,
key, prompt or other free text. Every metric here is documented in docs/METRICS.md.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    disable_created_metrics,
)
from prometheus_client.exposition import generate_latest

from tokenhub import __version__

# The *_created series double the sample count for no operational value.
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """Holds the registry and the metric objects the rest of tokenhub records into."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.build_info = Info("tokenhub_build", "Tokenhub version.", registry=r)
        self.build_info.info({"version": __version__})
        self.http_requests = Counter(
            "tokenhub_http_requests_total",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "tokenhub_http_request_duration_seconds",
            "Time from request received to response sent, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "tokenhub_http_in_flight_requests",
            "HTTP requests being handled right now.",
            registry=r,
        )
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

    def render(self) -> bytes:
        """The registry in Prometheus text exposition format."""
        return generate_latest(self.registry)
