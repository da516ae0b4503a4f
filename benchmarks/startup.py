"""The start-up section: a fresh process, ``import minigrad``, and the first training step.

Three fresh processes (``python -m benchmarks.first_step``) share one new,
empty numba cache directory (``NUMBA_CACHE_DIR``):

1. cold cache: every kernel the first step needs is compiled and written to the cache;
2. warm cache: the kernels are loaded from it;
3. warm cache, again: loaded again, to show that nothing is ever compiled twice.

Each run reports the time from launching the process to the end of its first
step (interpreter start-up, imports, the step; read on the wall clock, which
parent and child share), the wall time of the whole process (with its exit),
the import and first-step times measured inside it, and how many kernels it
compiled and loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RUN_LABELS = ("cold cache", "warm cache", "warm cache, again")
#: the directory above the benchmarks package: where ``python -m benchmarks.first_step`` is found
PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StartupRun:
    """One fresh process: its times (seconds) and its numba compile and cache-load counts."""

    label: str
    to_first_step_s: float  # from launching the process to the end of its first step
    wall_s: float  # the whole child process, from the parent's side (includes exit)
    import_s: float  # import minigrad, rnn
    first_step_s: float  # make the fused model and run one training step
    compiled: int  # numba kernels compiled (cache misses)
    loaded: int  # numba kernels loaded from the cache


def run_fresh_process(config: str, quick: bool, cache_dir: str, label: str) -> StartupRun:
    """Run ``benchmarks.first_step`` in a new interpreter with ``NUMBA_CACHE_DIR=cache_dir``."""
    env = {**os.environ, "NUMBA_CACHE_DIR": cache_dir}
    env.pop("NUMBA_DISABLE_JIT", None)
    command = [sys.executable, "-m", "benchmarks.first_step", config] + (["--quick"] if quick else [])
    launched = time.time()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"start-up run '{label}' failed (exit code {done.returncode}): "
                           f"{' '.join(command)}\n{done.stderr.strip()}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return StartupRun(label, report["done_at"] - launched, wall, report["import_s"], report["first_step_s"],
                      report["compiled"], report["loaded"])


def measure_startup(config: str = "C1", quick: bool = False) -> list[StartupRun]:
    """Cold, warm and warm-again runs of the first training step on ``config``, in a fresh numba cache."""
    with tempfile.TemporaryDirectory(prefix="minigrad-numba-cache-") as cache_dir:
        return [run_fresh_process(config, quick, cache_dir, label) for label in RUN_LABELS]
