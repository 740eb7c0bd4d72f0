"""Render the README's terminal screenshots into docs/img/ (run by `make screenshots`).

Starts `tokenhub serve --demo` in a throwaway folder, sends it a few chat requests so the
health table has figures, runs the CLI commands shown in the README with colour forced,
and turns their output into SVG with Rich. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from rich.console import Console
from rich.text import Text

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
TOKENHUB = str(Path(sys.executable).with_name("tokenhub"))
WIDTH = 100
READY_TIMEOUT_S = 30.0
REQUESTS_PER_TARGET = 8
SHOTS = {
    "route-test.svg": ["route", "test", "Summarise this contract", "--mode", "high_confidence"],
    "health.svg": ["health"],
}


def main(out: Path = OUT) -> None:
    """Start a demo daemon, drive it, and write one SVG per command in SHOTS into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tokenhub-shots-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENHUB_")}
        env.update(TOKENHUB_HOME=home, FORCE_COLOR="1", COLUMNS=str(WIDTH), NO_COLOR="")
        daemon = subprocess.Popen(
            [TOKENHUB, "serve", "--demo", "--port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = _wait_for_daemon(env)
            for _ in range(REQUESTS_PER_TARGET):
                for target in ("auto", "tokenhub/cheap", "tokenhub/high_confidence"):
                    _chat(url, target)
            for name, argv in SHOTS.items():
                _shoot(out / name, argv, env)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=20)


def _wait_for_daemon(env: dict[str, str]) -> str:
    """The daemon's HTTP base URL, once `tokenhub status` answers (polled, with a deadline)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        done = subprocess.run(
            [TOKENHUB, "status", "--json"], env=env, capture_output=True, text=True, check=False
        )
        if done.returncode == 0:
            listeners = json.loads(done.stdout)["listeners"]
            return next(url for url in listeners if url.startswith("http://"))
        time.sleep(0.1)
    raise SystemExit("the demo daemon did not start")


def _chat(url: str, model: str) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "Hello!"}]}
    request = urllib.request.Request(
        f"{url}/v1/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def _shoot(path: Path, argv: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([TOKENHUB, *argv], env=env, capture_output=True, text=True, check=True)
    console = Console(record=True, width=WIDTH, force_terminal=True, file=io.StringIO())
    console.print(f"$ tokenhub {' '.join(_quoted(a) for a in argv)}", style="bold")
    console.print(Text.from_ansi(done.stdout.rstrip("\n")))
    console.save_svg(str(path), title="tokenhub")
    print(f"wrote {path}")


def _quoted(arg: str) -> str:
    return f'"{arg}"' if " " in arg else arg


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
