"""The "under load" section: minigrad's speed when another process keeps a core busy.

A student's laptop is always running something else.  On such a machine a BLAS
that splits a small product over every core makes its threads wait for the
busy one, so the BPTT driver runs its products on one thread unless they are
large (``minigrad.threads``).  This section checks that rule in one run:

* **demo**: the training of ``python -m rnn.demo`` (``rnn.training.DEMO``,
  its five strategies), each time in a fresh process, as installed and with
  ``OPENBLAS_NUM_THREADS=1``, on the quiet machine and next to a busy process
  that this benchmark starts itself (``busy_process``).  Goal: under load,
  as installed takes at most 1.15x the one-thread time.
* **size rule**: one training step of the speed configurations, with the BLAS
  on one thread and on every thread (the rule switched off by setting
  ``minigrad.threads.SHARED_PRODUCT_FLOPS`` to 0), quiet and under load: the
  evidence for where the rule puts its threshold.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from threadpoolctl import threadpool_limits

import minigrad.threads
from rnn.bptt import largest_product

from .configs import Config, make_problem
from .implementations import MinigradTrainer
from .timing import TimingPlan, time_interleaved

#: the busy process: one core spinning in pure Python, as a browser tab or an editor's indexer would;
#: it stops by itself once the benchmark that started it is gone (killed, say), never left spinning
BUSY_CODE = """\
import os, sys
parent = int(sys.argv[1])  # given, not read: the parent may already be gone when this line runs
while os.getppid() == parent:
    for _ in range(100_000):
        pass
"""

#: the demo's training in a fresh process; prints the seconds it took (imports and numba's cache excluded)
DEMO_CODE = """\
import json, sys, time
from rnn import training
steps = int(sys.argv[1])
runs = training.build_runs(training.DEMO_STRATEGIES, **{**training.DEMO, "steps": steps})
started = time.perf_counter()
training.train_runs(runs)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""

#: the speed configurations whose steps the size rule is checked on
RULE_CONFIGS = ("C2", "C3")


@contextmanager
def busy_process():
    """Keep one core busy with a spinning Python process while the block runs."""
    spinner = subprocess.Popen([sys.executable, "-c", BUSY_CODE, str(os.getpid())])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def demo_seconds(steps: int, one_thread: bool) -> float:
    """Seconds of the demo's training (``steps`` per strategy) in a fresh process,
    as installed or with ``OPENBLAS_NUM_THREADS=1``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(name, None)
    if one_thread:
        env["OPENBLAS_NUM_THREADS"] = "1"
    done = subprocess.run([sys.executable, "-c", DEMO_CODE, str(steps)], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


@dataclass
class DemoTimes:
    """Median demo training seconds: {(loaded, one_thread): seconds}."""

    steps: int
    repeats: int
    seconds: dict

    def ratio(self, loaded: bool) -> float:
        """As installed over one thread, quiet (False) or under load (True)."""
        return self.seconds[(loaded, False)] / self.seconds[(loaded, True)]


def measure_demo(steps: int, repeats: int, progress=lambda items: items) -> DemoTimes:
    """The demo's training ``repeats`` times in each of the four settings; medians.

    The two thread settings alternate within each repeat, so a drift in the
    machine's speed hits both alike."""
    runs = {(loaded, one): [] for loaded in (False, True) for one in (False, True)}
    for loaded in progress((False, True)):
        with busy_process() if loaded else nullcontext():
            for r in range(repeats):
                for one in ((False, True) if r % 2 == 0 else (True, False)):
                    runs[(loaded, one)].append(demo_seconds(steps, one))
    return DemoTimes(steps, repeats, {key: sorted(t)[len(t) // 2] for key, t in runs.items()})


@contextmanager
def _rule_off():
    """Every product may use every BLAS thread: the size rule switched off."""
    saved = minigrad.threads.SHARED_PRODUCT_FLOPS
    minigrad.threads.SHARED_PRODUCT_FLOPS = 0
    try:
        yield
    finally:
        minigrad.threads.SHARED_PRODUCT_FLOPS = saved


def measure_rule(configs: list[Config], plan: TimingPlan) -> list[dict]:
    """One training step (minigrad, fused cell) of each configuration with one BLAS thread
    and with one per core, quiet and under load: rows for the report.  The BLAS gets one
    thread per core here whatever OPENBLAS_NUM_THREADS says (the speed section may run
    with it set to 1)."""
    with threadpool_limits(os.cpu_count() or 1, user_api="blas"):
        return [_rule_row(config, plan) for config in configs]


def _rule_row(config: Config, plan: TimingPlan) -> dict:
    """One row of ``measure_rule``: the step timed with one thread and with all of them."""
    threads = minigrad.threads.current()
    model = MinigradTrainer(make_problem(config), fused=True)

    def every_thread():
        with _rule_off():
            model.step()

    def one_thread():
        with minigrad.threads.blas_threads(1):
            model.step()

    row = {"config": config, "threads": threads,
           "rule": minigrad.threads.threads_for(largest_product(model.model, model.xs))}
    for loaded in (False, True):
        with busy_process() if loaded else nullcontext():
            timed = time_interleaved({"one": one_thread, "every": every_thread}, plan)
        row[loaded] = (timed["one"].median_s, timed["every"].median_s)
    return row


def section(demo: DemoTimes, rule: list[dict]) -> str:
    """The report's markdown for both measurements."""
    from .report import markdown_table

    settings = [("quiet", False), ("one busy process", True)]
    demo_rows = [[label, f"{demo.seconds[(loaded, False)]:.2f} s", f"{demo.seconds[(loaded, True)]:.2f} s",
                  f"{demo.ratio(loaded):.2f}x"] for label, loaded in settings]
    lines = [
        f"The demo's training (`rnn.training.DEMO`, five strategies, {demo.steps} steps each) in a fresh "
        f"process, median of {demo.repeats}; the busy process is a Python loop this benchmark starts.",
        "",
        markdown_table(["machine", "as installed", "OPENBLAS_NUM_THREADS=1", "ratio"], demo_rows),
        "",
        "One training step (minigrad, fused cell, full BPTT, float32) with one BLAS thread and with "
        f"every thread ({rule[0]['threads'] if rule else '?'} here), medians; *rule* is what "
        "`minigrad.threads.threads_for` gives the step.",
        "",
        markdown_table(
            ["config", "rule", "quiet: 1 thread", "quiet: all", "all / 1", "loaded: 1 thread", "loaded: all",
             "all / 1"],
            [[f"{row['config'].name} ({row['config'].sizes()})", str(row["rule"]),
              f"{row[False][0] * 1e3:.2f} ms", f"{row[False][1] * 1e3:.2f} ms",
              f"{row[False][1] / row[False][0]:.2f}x",
              f"{row[True][0] * 1e3:.2f} ms", f"{row[True][1] * 1e3:.2f} ms",
              f"{row[True][1] / row[True][0]:.2f}x"] for row in rule]),
    ]
    return "\n".join(lines)


__all__ = ["busy_process", "demo_seconds", "measure_demo", "measure_rule", "section", "DemoTimes", "RULE_CONFIGS"]
