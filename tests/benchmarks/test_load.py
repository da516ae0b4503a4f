"""benchmarks.load: its busy process loads a core while the benchmark runs and never outlives it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.load import BUSY_CODE, busy_process


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as gone)."""
    status = Path(f"/proc/{pid}/status")
    try:
        return "\nState:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def _wait_until_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.05)
    return False


def test_the_busy_process_spins_while_the_block_runs_and_is_gone_after():
    before = set(os.listdir("/proc"))
    with busy_process():
        time.sleep(0.3)
        spinners = [int(p) for p in set(os.listdir("/proc")) - before if p.isdigit() and _running(int(p))]
        assert spinners, "no busy process was started"
        cpu = [float(Path(f"/proc/{p}/stat").read_text().split()[13]) for p in spinners]  # utime, in clock ticks
        assert max(cpu) > 0, "the busy process does not use the CPU"
    assert all(_wait_until_gone(p) for p in spinners)


def test_the_busy_process_stops_by_itself_when_the_benchmark_is_killed():
    parent = subprocess.Popen(
        [sys.executable, "-c", "import os, subprocess, sys, time\n"
                               f"spinner = subprocess.Popen([sys.executable, '-c', {BUSY_CODE!r}, str(os.getpid())])\n"
                               "print(spinner.pid, flush=True)\ntime.sleep(120)"],
        stdout=subprocess.PIPE, text=True)
    spinner = int(parent.stdout.readline())
    assert _running(spinner)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    assert _wait_until_gone(spinner), "the busy process kept spinning after the benchmark was killed"
