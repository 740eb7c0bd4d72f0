"""Microbenchmark of the Prometheus recording one consumer request costs.

Run with `make bench-micro`. Mirrors what the request log records per request
(tokenhub.server.request_log): the request counter, its duration, tokens both ways and
cost, each looked up by labels.
"""

from __future__ import annotations

from tokenhub.observability.metrics import Metrics


def record(metrics: Metrics) -> None:
    labels = ("/v1/chat/completions", "normal", "mixtral-8x7b", "sim-vllm-b", "ok")
    metrics.requests.labels(*labels).inc()
    metrics.request_duration.labels("/v1/chat/completions").observe(0.0042)
    metrics.tokens.labels("input", "mixtral-8x7b", "sim-vllm-b").inc(31)
    metrics.tokens.labels("output", "mixtral-8x7b", "sim-vllm-b").inc(20)
    metrics.cost.labels("mixtral-8x7b", "sim-vllm-b").inc(0.0000193)


def test_record_one_request(benchmark):
    """Counters and histograms of one request, labels looked up each time."""
    metrics = Metrics()
    benchmark(record, metrics)


def test_render_metrics(benchmark):
    """One scrape of /metrics after traffic on one model."""
    metrics = Metrics()
    record(metrics)
    benchmark(metrics.render)
