"""The Claude Code helpers: finding the CLI, its environment, and recording its requests."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from tokenhub.testing.claude_code import (
    CACHE_ENV,
    Placeholders,
    betas,
    claude_env,
    claude_version,
    default_cache,
    find_claude,
    recorded_request,
    run_claude,
)

UUID = "fba0d026-fc21-4593-917a-2de8270568ed"


def fake_install(cache: Path, script: str) -> Path:
    """An npm-shaped install whose ``claude`` is a shell script."""
    package = cache / "node_modules" / "@anthropic-ai" / "claude-code"
    (package / "bin").mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"version": "9.9.9"}), encoding="utf-8")
    binary = package / "bin" / "claude.exe"
    binary.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    (cache / "node_modules" / ".bin").mkdir()
    link = cache / "node_modules" / ".bin" / "claude"
    link.symlink_to(binary)
    return link


def test_the_cache_is_the_environment_variable_or_the_repo_folder(monkeypatch, tmp_path):
    """``$TOKENHUB_AGENTS_CACHE`` wins; without it, ``.cache/agents`` under the root."""
    assert default_cache(tmp_path) == tmp_path / ".cache" / "agents"
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    assert default_cache(tmp_path) == tmp_path / "elsewhere"


def test_find_claude_sees_only_an_installed_executable(tmp_path):
    """An empty cache has no CLI; npm's ``.bin/claude`` is found, its version read."""
    assert find_claude(tmp_path) is None
    binary = fake_install(tmp_path, "true")
    assert find_claude(tmp_path) == binary
    assert claude_version(binary) == "9.9.9"


def test_the_environment_names_the_endpoint_and_stops_other_traffic(tmp_path):
    """Base URL, key, model and a throwaway HOME; non-essential traffic switched off."""
    env = claude_env("http://127.0.0.1:1", "claude-x", tmp_path, "k")
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:1"
    assert env["ANTHROPIC_MODEL"] == env["ANTHROPIC_SMALL_FAST_MODEL"] == "claude-x"
    assert env["HOME"] == str(tmp_path)
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert not [k for k in env if k.startswith("TOKENHUB_")]


async def test_run_claude_passes_the_prompt_and_environment(tmp_path):
    """The prompt follows ``-p``; the child sees exactly the given environment and folder."""
    binary = fake_install(tmp_path / "cache", 'echo "$1 $2 $ANTHROPIC_MODEL $(pwd)"')
    env = claude_env("http://127.0.0.1:1", "claude-x", tmp_path, "k")
    run = await run_claude(binary, "say hi", env, tmp_path)
    assert run.returncode == 0
    assert run.stdout.strip() == f"-p say hi claude-x {tmp_path}"


def test_placeholders_replace_what_differs_between_runs():
    """Folder, its project slug, HOME, date, UUIDs, device id and kernel become stable."""
    marks = Placeholders.for_run(
        Path("/tmp/tmp_ab1"), Path("/tmp/h"), datetime(2026, 12, 8, tzinfo=UTC)
    )
    device = '\\"device_id\\":\\"' + "ab" * 32
    text = f"/tmp/tmp_ab1/x -tmp-tmp-ab1 /tmp/h 2026-12-08 {UUID} {device} Linux 6.18.44-fc"
    assert marks.apply(text) == (
        "/work/project/x -work-project /home/user 2026-01-01 "
        f"00000000-0000-4000-8000-000000000000 {device[:-64]}{'0' * 64} Linux 6.0.0"
    )


def test_recorded_requests_keep_no_credentials():
    """Keys and transport headers are dropped; names are lower-cased; the rest is kept."""
    headers = {
        "X-Api-Key": "sk-ant-secret",
        "Authorization": "Bearer sk-ant-secret",
        "Host": "127.0.0.1:9",
        "Content-Length": "9",
        "anthropic-beta": "a,b",
        "X-Claude-Code-Session-Id": UUID,
    }
    recorded = recorded_request("POST", "/v1/messages", headers, {"model": "m"}, Placeholders())
    assert recorded["headers"] == {
        "anthropic-beta": "a,b",
        "x-claude-code-session-id": "00000000-0000-4000-8000-000000000000",
    }
    assert "sk-ant-secret" not in json.dumps(recorded)
    assert recorded["body"] == {"model": "m"}


def test_betas_are_the_comma_separated_header_in_order():
    """``anthropic-beta`` splits on commas, any case of the name, blanks dropped."""
    assert betas({"Anthropic-Beta": "b-2, a-1,,c-3"}) == ["b-2", "a-1", "c-3"]
    assert betas({}) == []
