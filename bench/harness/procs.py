"""CPU and memory accounting of a process tree from ``/proc``.

CPU is ``utime + stime`` from ``/proc/<pid>/stat`` (all threads of the process), summed over
the process and its live descendants; memory is ``VmRSS`` / ``VmHWM`` from
``/proc/<pid>/status``. A snapshot is taken before and after each load run; the difference
in CPU divided by the requests answered is the server's CPU per request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
KIB = 1024
MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Snapshot:
    """CPU ticks and memory of a process tree at one instant."""

    ticks: int
    rss_kib: int
    hwm_kib: int
    pids: tuple[int, ...]

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / KIB

    @property
    def hwm_mib(self) -> float:
        return self.hwm_kib / KIB


def parse_stat(text: str) -> tuple[int, int]:
    """(ppid, utime + stime in clock ticks) from a ``/proc/<pid>/stat`` line.

    The command name (field 2) may hold spaces and parentheses, so fields are counted
    from the last ``)``.
    """
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return int(rest[1]), int(rest[11]) + int(rest[12])


def parse_status(text: str) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB from a ``/proc/<pid>/status`` text; 0 when absent."""
    values = {"VmRSS": 0, "VmHWM": 0}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in values:
            values[key] = int(value.split()[0])
    return values["VmRSS"], values["VmHWM"]


def descendants(root: int, parents: dict[int, int]) -> list[int]:
    """``root`` and every pid whose parent chain leads to it, from a pid -> ppid map."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return sorted(tree)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:  # the process exited between listing and reading
        return None


def _all_stats(proc: Path) -> dict[int, tuple[int, int]]:
    stats = {}
    for entry in proc.iterdir():
        if entry.name.isdigit() and (text := _read(entry / "stat")) is not None:
            stats[int(entry.name)] = parse_stat(text)
    return stats


def snapshot(root: int, proc: Path = PROC) -> Snapshot:
    """CPU ticks and memory of ``root`` and its descendants."""
    stats = _all_stats(proc)
    pids = descendants(root, {pid: ppid for pid, (ppid, _) in stats.items()})
    ticks = rss = hwm = 0
    for pid in pids:
        if pid not in stats:
            continue
        ticks += stats[pid][1]
        status = _read(proc / str(pid) / "status")
        if status is not None:
            pid_rss, pid_hwm = parse_status(status)
            rss, hwm = rss + pid_rss, hwm + pid_hwm
    return Snapshot(ticks, rss, hwm, tuple(pids))


def cpu_ms(before: Snapshot, after: Snapshot, ticks_per_s: int = CLK_TCK) -> float:
    """CPU milliseconds spent between two snapshots."""
    return (after.ticks - before.ticks) * 1000 / ticks_per_s


def cpu_ms_per_request(
    before: Snapshot, after: Snapshot, requests: int, ticks_per_s: int = CLK_TCK
) -> float | None:
    """CPU milliseconds per answered request between two snapshots (None without requests)."""
    if requests <= 0:
        return None
    return cpu_ms(before, after, ticks_per_s) / requests
