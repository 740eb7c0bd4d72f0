"""A small streaming client that measures time to first token (TTFT), which wrk cannot.

``concurrency`` workers each send streamed chat requests back to back until ``requests``
have been sent; for each it records the time from sending to the first SSE event that
carries text (TTFT), the time to the end of the stream, and whether the stream ended
properly (``data: [DONE]``). It runs in the harness process, pinned beside wrk.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field

import aiohttp

CONTENT = re.compile(rb'"content"\s*:\s*"[^"]')
STREAM_BODY = {
    "max_tokens": 64,
    "stream": True,
    "messages": [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Say hello to the benchmark in one short sentence."},
    ],
}


@dataclass
class ProbeResult:
    """Per-request timings (µs) and failures of one probe run."""

    ttft_us: list[float] = field(default_factory=list)
    total_us: list[float] = field(default_factory=list)
    errors: int = 0
    duration_s: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.total_us) + self.errors


async def _one(session: aiohttp.ClientSession, url: str, body: dict, headers: dict) -> tuple:
    started = time.perf_counter()
    first = None
    buffer = b""
    async with session.post(url, json=body, headers=headers) as response:
        if response.status != 200:
            await response.read()
            return None
        async for chunk in response.content.iter_any():
            buffer += chunk
            if first is None and CONTENT.search(buffer):
                first = time.perf_counter()
    end = time.perf_counter()
    if first is None or b"data: [DONE]" not in buffer:
        return None
    return (first - started) * 1e6, (end - started) * 1e6


async def _worker(session, url, body, headers, todo: list[int], result: ProbeResult) -> None:
    while todo:
        todo.pop()
        try:
            timing = await _one(session, url, body, headers)
        except (aiohttp.ClientError, TimeoutError):
            timing = None
        if timing is None:
            result.errors += 1
            continue
        result.ttft_us.append(timing[0])
        result.total_us.append(timing[1])


async def probe(
    url: str, model: str, requests: int, concurrency: int, api_key: str = ""
) -> ProbeResult:
    """Send ``requests`` streamed requests over ``concurrency`` connections."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    body = {"model": model, **STREAM_BODY}
    result = ProbeResult()
    todo = list(range(requests))
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        workers = [_worker(session, url, body, headers, todo, result) for _ in range(concurrency)]
        await asyncio.gather(*workers)
        result.duration_s = time.perf_counter() - started
    return result


def run_probe(
    url: str, model: str, requests: int, concurrency: int, api_key: str = ""
) -> ProbeResult:
    """Blocking wrapper around :func:`probe`."""
    return asyncio.run(probe(url, model, requests, concurrency, api_key))
