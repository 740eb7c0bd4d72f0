"""Logging with redaction, the Prometheus metrics registry, and (later) the TSDB and events."""
