"""Wall-clock timing: medians of repeated steps, and the machine's float32 matmul rate.

The machine is shared and noisy, so a figure means something only next to
others measured in the same run: the report gives ratios, never bare times
alone, and measures the matmul rate twice (before and after the speed runs)
to take the better one as the machine's peak.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TimingPlan:
    """How to time steps: ``warmup`` untimed calls of each, then ``repeats`` timed rounds.

    When ``repeats`` rounds would take longer than ``budget_s`` (judged by the
    last warm-up calls), fewer are timed, never fewer than ``min_repeats``.
    """

    warmup: int = 3
    repeats: int = 20
    min_repeats: int = 5
    budget_s: float = 120.0

    def __post_init__(self):
        if self.warmup < 1 or self.min_repeats < 1 or self.repeats < self.min_repeats:
            raise ValueError(f"TimingPlan needs warmup >= 1 and repeats >= min_repeats >= 1, got {self}")


@dataclass(frozen=True)
class Timing:
    """The median of ``steps`` timed calls, in seconds."""

    median_s: float
    steps: int


def _timed(step) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def time_interleaved(steps: dict, plan: TimingPlan) -> dict:
    """{name: Timing} for each of ``steps`` ({name: callable}), timed in interleaved rounds.

    After ``plan.warmup`` untimed calls of each, every round calls each step
    twice in a row and times the second call: the timed call meets warm caches,
    as in a training loop, and a change in the machine's load during the run
    (it is shared) hits every implementation alike.  Every step gets the same
    number of rounds.
    """
    last = {}
    for name, step in steps.items():
        for _ in range(plan.warmup):
            last[name] = _timed(step)
    round_cost = 2 * sum(last.values())
    repeats = plan.repeats
    if round_cost * repeats > plan.budget_s:
        repeats = max(plan.min_repeats, int(plan.budget_s / round_cost))
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            step()
            times[name].append(_timed(step))
    return {name: Timing(statistics.median(t), repeats) for name, t in times.items()}


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
