"""Drive a CLI through a pseudo-terminal, answering its (hidden) prompts like a person."""

from __future__ import annotations

import os
import pty
import select
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class TerminalRun:
    """What a command printed on its terminal, and how it exited."""

    returncode: int
    output: str


def run_in_terminal(
    argv: Sequence[str],
    answers: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> TerminalRun:
    """Run ``argv`` on a pty; type each answer after the next prompt (output ending in ": ").

    The pty becomes the child's controlling terminal (``pty.fork``), so ``getpass`` reads
    from it with echo off, exactly as for a person at a terminal.
    """
    pid, master = pty.fork()
    if pid == 0:  # the child: become the command
        os.execvpe(argv[0], list(argv), env if env is not None else dict(os.environ))  # noqa: S606 - the child must become the command itself (no shell) to own the pty
    seen = b""
    deadline = time.monotonic() + timeout
    pending = list(answers)
    try:
        while True:
            # Click prints "Prompt:" then getpass prints " " after turning echo off: answer
            # only after the space, or the typed text could echo or be flushed.
            if pending and seen.endswith(b": "):
                os.write(master, pending.pop(0).encode() + b"\n")
                seen += b"\n"
            chunk = _read(master, deadline)
            if chunk is None:
                break
            seen += chunk
        returncode = _wait(pid, deadline)
    finally:
        os.close(master)
    return TerminalRun(returncode, seen.decode(errors="replace").replace("\r\n", "\n"))


def _wait(pid: int, deadline: float) -> int:
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise TimeoutError("the command did not exit in time")
        time.sleep(0.01)


def _read(master: int, deadline: float) -> bytes | None:
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the command did not finish in time")
        ready, _, _ = select.select([master], [], [], min(left, 0.2))
        if not ready:
            continue
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return None
        return data or None
