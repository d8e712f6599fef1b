"""CPU seconds of our own processes from /proc (bench/cpu.py): the benchmark's figure that
neighbours on a shared machine hardly change."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench import cpu


def test_parse_stat_reads_the_parent_and_the_cpu_after_the_command_name():
    # A command name may hold spaces and brackets: fields are counted after the last ")".
    line = (
        "4242 (gunicorn: worker) [x)) S 4100 4100 4100 0 -1 4194560 1 0 0 0 "
        "250 50 0 0 20 0 1 0 100 0 0"
    )

    ppid, seconds = cpu.parse_stat(line)

    assert ppid == 4100
    assert seconds == (250 + 50) / cpu.TICKS


SPIN = "import time\nend = time.time() + 30\nwhile time.time() < end: pass"


def spend(pid: int, seconds: float) -> float:
    """Wait (10 s at most) until `pid` has spent `seconds` more CPU; its total."""
    start = cpu.seconds([pid])[pid]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        total = cpu.seconds([pid])[pid]
        if total - start >= seconds:
            return total
        time.sleep(0.05)
    raise AssertionError(f"the child got no {seconds} s of CPU in 10 s")


def test_the_meter_counts_the_cpu_a_process_family_spent_in_the_block():
    child = subprocess.Popen([sys.executable, "-c", SPIN])  # noqa: S603
    try:
        assert child.pid in cpu.family(os.getpid())
        with cpu.CpuMeter({"child": lambda: [child.pid], "idle": list}) as meter:
            spend(child.pid, 0.1)
        assert meter.spent["child"] >= 0.1
        assert meter.spent["idle"] == 0
        assert meter.per(10)["child"] == round(meter.spent["child"] * 1000 / 10, 2)
    finally:
        child.kill()
        child.wait(timeout=10)


def test_a_process_gone_during_the_block_is_left_out_not_an_error():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    with cpu.CpuMeter({"gone": lambda: [child.pid]}) as meter:
        child.wait(timeout=30)
        time.sleep(0.1)

    assert meter.spent["gone"] == 0


def test_a_process_started_during_the_block_counts_all_it_spent():
    started: list[int] = []
    child = None
    try:
        with cpu.CpuMeter({"new": lambda: started}) as meter:
            child = subprocess.Popen([sys.executable, "-c", SPIN])  # noqa: S603
            started.append(child.pid)
            total = spend(child.pid, 0.1)

        assert meter.spent["new"] >= total >= 0.1
    finally:
        if child is not None:
            child.kill()
            child.wait(timeout=10)
