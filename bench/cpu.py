"""CPU seconds our own processes spent in a window, read from /proc (Linux).

Latency on a shared machine depends on what the neighbours do; the CPU a request costs
much less so (±15% over a run's windows on a busy machine, though a contended VM inflates
it too: ≈ 2× the quiet figures). Counted per group of processes (the gunicorn workers, the
Celery worker, the PostgreSQL backends of the benchmark's database): for a process alive at
both ends of the window what it spent between them, for one that started inside it all it
spent (a backend reconnecting after CONN_MAX_AGE); one that ended inside it is missed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")


def parse_stat(text: str) -> tuple[int, float]:
    """(parent pid, user + system CPU seconds) from the text of /proc/<pid>/stat; the
    command name in brackets may hold spaces and brackets of its own."""
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is the stat's 3rd field (state): ppid is the 4th, utime the 14th, stime 15th.
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS


def _stat(pid: int) -> tuple[int, float] | None:
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):  # gone meanwhile
        return None


def family(root: int) -> list[int]:
    """`root` and its descendants."""
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = stat[0]
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def seconds(pids: list[int]) -> dict[int, float]:
    """CPU seconds so far of each process still alive."""
    return {pid: stat[1] for pid in pids if (stat := _stat(pid)) is not None}


class CpuMeter:
    """`with CpuMeter({"web": lambda: family(pid), …}) as cpu:` … then `cpu.spent`: CPU
    seconds each group spent inside the block."""

    def __init__(self, groups: dict[str, Callable[[], list[int]]]) -> None:
        self.groups = groups
        self.before: dict[str, dict[int, float]] = {}
        self.spent: dict[str, float] = {}

    def __enter__(self) -> CpuMeter:
        self.before = {name: seconds(pids()) for name, pids in self.groups.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        for name, before in self.before.items():
            after = seconds(sorted(set(before) | set(self.groups[name]())))
            spent = sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())
            self.spent[name] = round(spent, 3)

    def per(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU each group spent per one of `count` requests."""
        return {name: round(spent * 1000 / count, 2) for name, spent in self.spent.items()}
