"""Clients that leave mid-body or mid-stream are not server errors, and cost no upstream stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tokenhub.testing.load import chat_request, leave_mid_body, leave_mid_stream
from tokenhub.testing.polling import async_wait_until
from tokenhub.testing.stack import Stack, gateway_stack

from . import pair
from .pair import ALIAS, Size, sizes

STREAM = {"output_tokens": 40, "tokens_per_second": 20}
"""A two-second stream: long enough that a client leaving after five chunks is mid-stream."""


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: dict[int, logging.LogRecord] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.records[id(record)] = record


@contextmanager
def error_lines() -> Iterator[dict[int, logging.LogRecord]]:
    """Collect every error-level record of tokenhub and aiohttp, propagated or not."""
    handler = _Errors()
    loggers = [logging.getLogger(name) for name in ("tokenhub", "aiohttp", "")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


async def answered_by_status(stack: Stack) -> dict[str, float]:
    """``tokenhub_http_requests_total`` summed per status code."""
    async with stack.client.get("/metrics") as response:
        text = await response.text()
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "tokenhub_http_requests":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    status = sample.labels["status"]
                    counts[status] = counts.get(status, 0.0) + sample.value
    return counts


@pytest.mark.parametrize("size", sizes(Size(0, 150, timeout_s=50), Size(0, 300, timeout_s=100)))
async def test_clients_leaving(size: Size, table):
    """Mid-body and mid-stream departures log no error, count no 500, cancel the upstream."""
    bodies, streams = size.concurrency, int(size.timeout_s)  # counts of each kind of client
    async with gateway_stack(pair.scenario(STREAM), pair.registry(10)) as stack:
        with error_lines() as errors:
            gate = asyncio.Semaphore(50)

            async def one_body() -> None:
                async with gate:
                    await leave_mid_body(stack.url)

            await asyncio.gather(*(one_body() for _ in range(bodies)))
            request = chat_request(ALIAS, stream=True)
            async with aiohttp.ClientSession(stack.url) as http:
                began = await asyncio.gather(
                    *(leave_mid_stream(http, request, after_chunks=5) for _ in range(streams))
                )

            def all_ended() -> bool:
                calls = stack.sim.calls_to("pa")
                return len(calls) >= streams and all(c.ended is not None for c in calls)

            await async_wait_until(lambda: _true(all_ended()), timeout=10, what="streams ended")
            completed = sum(c.completed for c in stack.sim.calls_to("pa"))
            by_status = await answered_by_status(stack)
    served_500 = by_status.get("500", 0)
    holds = not errors and not served_500 and not completed
    table(
        f"{bodies} clients leaving mid-body, {streams} mid-stream",
        "0 error-level lines, 0 counted 500s; upstream streams cancelled",
        f"{len(errors)} error lines, {served_500:.0f} x 500, {by_status.get('499', 0):.0f} x 499;"
        f" {began.count(200)} streams had begun; {completed} of {streams} upstream streams"
        " ran to the end",
        holds,
    )
    assert began.count(200) == streams, "the stream clients must leave mid-stream, after a 200"
    assert not errors, [r.getMessage() for r in errors.values()][:3]
    assert served_500 == 0
    assert completed == 0


async def _true(value: bool) -> bool:
    return value
