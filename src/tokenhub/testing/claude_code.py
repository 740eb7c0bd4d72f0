"""Run the real Claude Code CLI (``claude -p``) against a base URL, and record what it sent.

Used by ``scripts/record_agent_fixtures.py`` (which writes the fixtures under
``tests/fixtures/agents/claude_code/``) and by ``make test-agents``. Claude Code comes from
npm (``@anthropic-ai/claude-code``) into a cache folder; nothing here downloads it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

CACHE_ENV = "TOKENHUB_AGENTS_CACHE"
"""Where ``make test-agents`` installs Claude Code (default: ``.cache/agents`` in the repo)."""

NPM_PACKAGE = "@anthropic-ai/claude-code"

DROPPED_HEADERS = frozenset(
    {"x-api-key", "authorization", "host", "content-length", "connection", "accept-encoding"}
)
"""Credentials and transport-level headers: not part of the request's shape."""

THINKING_KEY = "claude-code-fixtures"
"""The simulator's signing key in the fixtures' scenarios, so their recorded thinking
signatures are the simulator's own and it accepts them back."""

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DEVICE_ID = re.compile(r'(\\?"device_id\\?":\\?")([0-9a-f]{64})')
_KERNEL = re.compile(r"(Linux|Darwin) \d+\.\d+[^\s\"\\]*")


def default_cache(root: Path) -> Path:
    """The install folder: ``$TOKENHUB_AGENTS_CACHE``, else ``ROOT/.cache/agents``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured) if configured else root / ".cache" / "agents"


def find_claude(cache: Path) -> Path | None:
    """The ``claude`` executable npm installed under ``cache``, or None."""
    binary = cache / "node_modules" / ".bin" / "claude"
    return binary if binary.is_file() and os.access(binary, os.X_OK) else None


def claude_version(binary: Path) -> str:
    """The installed version, from the package's ``package.json`` (no process started)."""
    package = binary.resolve().parents[1] / "package.json"
    return str(json.loads(package.read_text(encoding="utf-8"))["version"])


def claude_env(base_url: str, model: str, home: Path, api_key: str) -> dict[str, str]:
    """A minimal environment: the endpoint, key and model, and no traffic beyond /v1/messages.

    ``HOME`` is a throwaway folder, so no user settings, login or history leak in.
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }


@dataclass(frozen=True)
class ClaudeRun:
    """How one ``claude -p`` ended: exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


async def run_claude(
    binary: Path,
    prompt: str,
    env: Mapping[str, str],
    cwd: Path,
    *,
    timeout: float = 120.0,  # noqa: ASYNC109 - a deadline for a child process, not a cancellation scope
    extra_args: Iterable[str] = (),
) -> ClaudeRun:
    """Run ``claude -p PROMPT`` in ``cwd`` with exactly ``env``; kill it at the deadline."""
    process = await asyncio.create_subprocess_exec(
        str(binary),
        "-p",
        prompt,
        *extra_args,
        env=dict(env),
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return ClaudeRun(process.returncode or 0, out.decode(), err.decode())


@dataclass
class Placeholders:
    """Machine- and run-specific strings, replaced by stable names in recorded requests."""

    replacements: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_run(cls, cwd: Path, home: Path, today: datetime | None = None) -> Placeholders:
        """The working folder (as a path and as Claude Code's project slug), HOME and the date."""
        day = (today or datetime.now(UTC)).strftime("%Y-%m-%d")
        slug = re.sub(r"[^A-Za-z0-9]", "-", str(cwd))
        stable = {str(cwd): "/work/project", slug: "-work-project", str(home): "/home/user"}
        return cls(stable | {day: "2026-01-01"})

    def apply(self, text: str) -> str:
        """``text`` with every placeholder, UUID, device id and kernel version replaced."""
        for real, stable in self.replacements.items():
            text = text.replace(real, stable)
        text = _DEVICE_ID.sub(lambda m: m.group(1) + "0" * 64, text)
        text = _KERNEL.sub(lambda m: f"{m.group(1)} 6.0.0", text)
        return _UUID.sub("00000000-0000-4000-8000-000000000000", text)


def recorded_request(
    method: str, path: str, headers: Mapping[str, str], body: Any, placeholders: Placeholders
) -> dict[str, Any]:
    """One request as a fixture holds it: auth and transport headers dropped, placeholders in."""
    kept = {k.lower(): v for k, v in headers.items() if k.lower() not in DROPPED_HEADERS}
    raw = json.dumps({"method": method, "path": path, "headers": kept, "body": body})
    recorded: dict[str, Any] = json.loads(placeholders.apply(raw))
    return recorded


def betas(headers: Mapping[str, str]) -> list[str]:
    """The ``anthropic-beta`` header as a list (it is comma-separated), in order."""
    value = next((v for k, v in headers.items() if k.lower() == "anthropic-beta"), "")
    return [b.strip() for b in value.split(",") if b.strip()]
