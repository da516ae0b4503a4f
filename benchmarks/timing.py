"""Wall-clock timing: medians of repeated steps, and the machine's float32 matmul rate.

The machine is shared and noisy, so a figure means something only next to
others measured in the same run: the report gives ratios, never bare times
alone, and measures the matmul rate twice (before and after the speed runs)
to take the better one as the machine's peak.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimingPlan:
    """How to time steps: ``warmup`` untimed calls of each, then ``repeats`` timed rounds.

    When ``repeats`` rounds would take longer than ``budget_s`` (judged by the
    last warm-up calls), fewer are timed, never fewer than ``min_repeats``.
    A step faster than ``burst_s`` is timed as a burst of back-to-back calls
    lasting about that long, and the burst's time divided by its calls is
    the round's figure.
    """

    warmup: int = 3
    repeats: int = 20
    min_repeats: int = 5
    budget_s: float = 120.0
    burst_s: float = 0.01

    def __post_init__(self):
        if self.warmup < 1 or self.min_repeats < 1 or self.repeats < self.min_repeats:
            raise ValueError(f"TimingPlan needs warmup >= 1 and repeats >= min_repeats >= 1, got {self}")


@dataclass(frozen=True)
class Timing:
    """The median over ``steps`` timed rounds of the time per call, in seconds."""

    median_s: float
    steps: int


def _timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def time_interleaved(steps: dict, plan: TimingPlan) -> dict:
    """{name: Timing} for each of ``steps`` ({name: callable}), timed in interleaved rounds.

    After ``plan.warmup`` untimed calls of each, every round calls each step
    once untimed, then times the calls that follow it: one call, or for a
    step faster than ``plan.burst_s`` a burst of calls lasting about that
    long.  The timed calls meet warm caches, as in a training loop (a single
    0.2 ms call right after another implementation ran measured that
    implementation's cache misses as much as its own work), and a change in
    the machine's load during the run (it is shared) hits every
    implementation alike.  Every step gets the same number of rounds, and
    each round starts one implementation further on, so none always runs
    right after the same other one.

    Python's cyclic garbage collector is off while steps run (after one full
    collection), as in ``timeit``: it starts on allocation counts, so its
    pauses would land on whichever step happens to cross the threshold, not
    on the one that made the garbage.  Reference counting still frees
    everything a step drops, so memory does not grow.
    """
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _rounds(steps, plan)
    finally:
        if collecting:
            gc.enable()


def _rounds(steps: dict, plan: TimingPlan) -> dict:
    last = {}
    for name, step in steps.items():
        for _ in range(plan.warmup):
            last[name] = _timed(step)
    burst = {name: max(1, math.ceil(plan.burst_s / max(cost, 1e-9))) for name, cost in last.items()}
    round_cost = sum((1 + burst[name]) * cost for name, cost in last.items())
    repeats = plan.repeats
    if round_cost * repeats > plan.budget_s:
        repeats = max(plan.min_repeats, int(plan.budget_s / round_cost))
    times = {name: [] for name in steps}
    names = list(steps)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:  # each round starts one further on
            steps[name]()
            times[name].append(_timed_burst(steps[name], burst[name]))
    return {name: Timing(statistics.median(t), repeats) for name, t in times.items()}


def _timed_burst(step, calls: int) -> float:
    """The time of ``calls`` back-to-back calls, per call."""
    start = time.perf_counter()
    for _ in range(calls):
        step()
    return (time.perf_counter() - start) / calls


@dataclass(frozen=True)
class MatmulPeak:
    """The float32 rate of one square matrix product (n x n times n x n: 2 n^3 FLOPs)."""

    size: int
    median_s: float
    repeats: int

    @property
    def gflops(self) -> float:
        """Billions of floating-point operations per second."""
        return 2.0 * self.size**3 / self.median_s / 1e9


def matmul_peak(size: int = 2048, repeats: int = 7) -> MatmulPeak:
    """Time ``a @ b`` for random float32 (size, size) matrices with numpy's BLAS: median of ``repeats``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(np.float32)
    b = rng.standard_normal((size, size)).astype(np.float32)
    out = np.empty_like(a)
    plan = TimingPlan(warmup=1, repeats=repeats, min_repeats=repeats)
    timing = time_interleaved({"matmul": lambda: np.matmul(a, b, out=out)}, plan)["matmul"]
    return MatmulPeak(size, timing.median_s, timing.steps)
