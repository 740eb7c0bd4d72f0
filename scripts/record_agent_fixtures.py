"""Record Claude Code's real requests as fixtures in tests/fixtures/agents/claude_code/.

Runs the real ``claude -p`` (installed by ``make test-agents`` into ``.cache/agents``, or
``$TOKENHUB_AGENTS_CACHE``) against a recording front on 127.0.0.1 that keeps every
request it receives and answers from the simulator's Anthropic provider; the one answer
the simulator cannot give yet (a signed ``thinking`` block before a ``tool_use``) the
front sends itself, in the Messages streaming format. Then writes one JSON file per case:
Claude Code's version, the prompt and model, its answer, and every ``/v1/messages``
request (method, path, headers without credentials, body) with run-specific strings
(working folder, HOME, date, UUIDs, device id, kernel version) replaced by stable ones.

    .venv/bin/python scripts/record_agent_fixtures.py [--out DIR]

Nothing leaves 127.0.0.1: Claude Code runs with non-essential traffic switched off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tokenhub.sim import ModelSpec, ProviderSpec, Scenario, Simulator, start_simulator
from tokenhub.sim.thinking import sign_thinking, signing_key
from tokenhub.testing.claude_code import (
    THINKING_KEY,
    ClaudeRun,
    Placeholders,
    claude_env,
    claude_version,
    default_cache,
    find_claude,
    recorded_request,
    run_claude,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "fixtures" / "agents" / "claude_code"
API_KEY = "sk-ant-recording-not-a-real-key"
THINKING = "The user wants the note's contents. I will read notes.txt with the Read tool."
SIGNATURE = sign_thinking(signing_key(0, THINKING_KEY), THINKING)
"""The seal the simulator puts on that thinking (its key is the fixtures' own), so the
simulator accepts the block when a replay sends it back."""
NOTE = "hello from the tokenhub fixture\n"


@dataclass(frozen=True)
class Case:
    """One recording: a prompt to one model, and the answers it gets, in order.

    An answer is text for the simulator to send, or ``None`` for the front's own
    thinking-then-``Read`` answer.
    """

    name: str
    model: str
    prompt: str
    answers: tuple[str | None, ...]
    about: str


CASES = (
    Case(
        "say_hi",
        "claude-sonnet-4-6",
        "say hi",
        ("Hi! How can I help you today?",),
        "First turn, a model with adaptive thinking and effort (output_config)",
    ),
    Case(
        "say_hi_budget_thinking",
        "claude-sonnet-4-5",
        "say hi",
        ("Hi! How can I help you today?",),
        "First turn, a model with budgeted thinking and no effort",
    ),
    Case(
        "thinking_tool_use",
        "claude-sonnet-4-6",
        "What does notes.txt say?",
        (None, "The note says: hello from the tokenhub fixture."),
        "Two turns: thinking + Read tool_use, then the tool_result with the thinking kept",
    ),
)


def scenario() -> Scenario:
    """An Anthropic provider serving every model the cases name."""
    models = tuple(ModelSpec(id=m, max_output_tokens=64_000) for m in {c.model for c in CASES})
    return Scenario(
        seed=7,
        providers=(
            ProviderSpec(
                name="anthropic", type="anthropic", models=models, thinking_key=THINKING_KEY
            ),
        ),
    )


@dataclass
class Front:
    """The recording front: what it received, and the answers it owes before the simulator's."""

    sim: Simulator
    session: aiohttp.ClientSession
    received: list[dict[str, Any]] = field(default_factory=list)
    own_answers: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Record the request; answer it ourselves or relay it to the simulator."""
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.received.append(
            {"method": request.method, "path": request.path_qs, "headers": request.headers}
            | {"body": body}
        )
        if request.method == "POST" and request.path == "/v1/messages" and self.own_answers:
            return await _send_events(request, _thinking_tool_use(self.own_answers.pop(0), body))
        return await self._relay(request, raw)

    async def _relay(self, request: web.Request, raw: bytes) -> web.Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        url = f"{self.sim.base_url('anthropic')}{request.path_qs}"
        async with self.session.request(request.method, url, headers=headers, data=raw) as up:
            body = await up.read()
            kept = {k: v for k, v in up.headers.items() if k.lower() == "content-type"}
            return web.Response(status=up.status, body=body, headers=kept)


@asynccontextmanager
async def recording_front(sim: Simulator) -> AsyncIterator[Front]:
    """Serve the front on 127.0.0.1, port 0, until exit."""
    async with aiohttp.ClientSession() as session:
        front = Front(sim, session)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", front.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            front.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            yield front
        finally:
            await runner.cleanup()


def _thinking_tool_use(tool_input: dict[str, Any], body: Any) -> list[dict[str, Any]]:
    """A streamed message: a signed thinking block, then a ``Read`` tool_use."""
    message = {
        "id": "msg_01RecordedThinkingToolUse0",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 2000, "output_tokens": 1},
    }
    tool = {"type": "tool_use", "id": "toolu_01RecordedReadCall00000", "name": "Read"}
    return [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0}
        | {"content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        {"type": "content_block_delta", "index": 0}
        | {"delta": {"type": "thinking_delta", "thinking": THINKING}},
        {"type": "content_block_delta", "index": 0}
        | {"delta": {"type": "signature_delta", "signature": SIGNATURE}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": tool | {"input": {}}},
        {"type": "content_block_delta", "index": 1}
        | {"delta": {"type": "input_json_delta", "partial_json": json.dumps(tool_input)}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}}
        | {"usage": {"output_tokens": 60}},
        {"type": "message_stop"},
    ]


async def _send_events(request: web.Request, events: list[dict[str, Any]]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8"})
    await response.prepare(request)
    for event in events:
        await response.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())
    await response.write_eof()
    return response


async def record_case(binary: Path, front: Front, case: Case) -> dict[str, Any]:
    """Run one case with a fresh HOME and working folder; return its fixture."""
    front.received.clear()
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as cwd:
        (Path(cwd) / "notes.txt").write_text(NOTE, encoding="utf-8")
        for answer in case.answers:
            if answer is None:
                front.own_answers.append({"file_path": str(Path(cwd) / "notes.txt")})
            else:
                front.sim.enqueue("anthropic", case.model, reply=answer)
        env = claude_env(front.url, case.model, Path(home), API_KEY)
        run = await run_claude(binary, case.prompt, env, Path(cwd))
        _check(case, run, front)
        marks = Placeholders.for_run(Path(cwd), Path(home))
        requests = [
            recorded_request(r["method"], r["path"], r["headers"], r["body"], marks)
            for r in front.received
            if r["method"] == "POST" and r["path"].startswith("/v1/messages")
        ]
    return {
        "about": case.about,
        "claude_code_version": claude_version(binary),
        "recorded_by": "scripts/record_agent_fixtures.py",
        "model": case.model,
        "prompt": case.prompt,
        "answer": run.stdout.strip(),
        "other_requests": [
            f"{r['method']} {r['path']}" for r in front.received if r["method"] != "POST"
        ],
        "requests": requests,
    }


def _check(case: Case, run: ClaudeRun, front: Front) -> None:
    if run.returncode != 0 or case.answers[-1] not in run.stdout:
        sys.exit(f"{case.name}: claude exited {run.returncode}: {run.stdout}{run.stderr}")
    if front.own_answers:
        sys.exit(f"{case.name}: Claude Code made fewer requests than the case expects")


async def record(binary: Path) -> dict[str, dict[str, Any]]:
    """Record every case; the fixtures by case name."""
    async with start_simulator(scenario()) as sim, recording_front(sim) as front:
        return {case.name: await record_case(binary, front, case) for case in CASES}


def write(fixtures: dict[str, dict[str, Any]], out: Path) -> None:
    """Write one ``NAME.json`` per fixture into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, fixture in fixtures.items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(fixture, indent=1, ensure_ascii=False) + "\n", "utf-8")
        print(f"{path}: {len(fixture['requests'])} request(s)")


def main() -> None:
    """Parse the arguments, find Claude Code, record."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="fixture folder")
    args = parser.parse_args()
    binary = find_claude(default_cache(ROOT))
    if binary is None:
        sys.exit(f"Claude Code is not installed in {default_cache(ROOT)}: run make test-agents")
    write(asyncio.run(record(binary)), args.out)


if __name__ == "__main__":
    main()
