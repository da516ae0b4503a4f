"""The speed section: check every implementation's gradients, then time its training step.

For each configuration: build the problem (same weights, same data for all),
make one trainer per implementation, compare every trainer's gradients with
the numpy loop's (``agreement.py``) and, only if all agree, time the steps
(``timing.py``).  Ratios are taken between medians of the same run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from .agreement import RTOL, Disagreement, compare_gradients, worst_error
from .configs import Config, make_problem
from .implementations import REFERENCE, Implementation
from .timing import TimingPlan, time_interleaved


@dataclass
class Measurement:
    """One implementation on one configuration."""

    implementation: str
    kind: str  # "minigrad" or "reference"
    gradient_error: float | None = None  # relative to the numpy loop's gradients
    median_s: float | None = None
    steps: int = 0
    note: str = ""  # why there is no time


@dataclass
class ConfigResult:
    """Everything measured on one configuration; ``refused`` lists the gradients that disagreed."""

    config: Config
    measurements: list = field(default_factory=list)
    refused: list = field(default_factory=list)

    def get(self, name: str) -> Measurement | None:
        """The measurement of one implementation (None if it was not in the run)."""
        return next((m for m in self.measurements if m.implementation == name), None)

    def median(self, name: str) -> float | None:
        """Its median step time in seconds (None if it was not timed)."""
        found = self.get(name)
        return None if found is None else found.median_s

    def fastest_reference(self) -> Measurement | None:
        """The fastest hand-written implementation timed in this run (numpy, numba or torch)."""
        timed = [m for m in self.measurements if m.kind == "reference" and m.median_s is not None]
        return min(timed, key=lambda m: m.median_s) if timed else None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def benchmark_config(config: Config, implementations: list[Implementation], plan: TimingPlan,
                     dtype=np.float32, rtol: float = RTOL, log=_log) -> ConfigResult:
    """Gradients first, then timings, of every implementation that applies to ``config``."""
    if not any(impl.name == REFERENCE for impl in implementations):
        raise ValueError(f"the implementations must include the reference {REFERENCE!r}: "
                         "every other one is checked against its gradients")
    problem = make_problem(config, dtype=dtype)
    result = ConfigResult(config)
    trainers = {}
    for impl in implementations:
        if impl.applies(config):
            trainers[impl.name] = impl.make(problem)
            result.measurements.append(Measurement(impl.name, impl.kind))
        else:
            result.measurements.append(Measurement(impl.name, impl.kind, note=f"not run: {impl.not_applicable}"))
    grads = {name: trainer.gradients() for name, trainer in trainers.items()}
    reference = grads[REFERENCE]
    for name, g in grads.items():
        result.get(name).gradient_error = worst_error(reference, g)
    result.refused = compare_gradients(reference, {n: g for n, g in grads.items() if n != REFERENCE}, rtol)
    if result.refused:
        log(refusal_message(config, result.refused, rtol))
        return result
    timings = time_interleaved({name: trainer.step for name, trainer in trainers.items()}, plan)
    for name, timing in timings.items():
        measured = result.get(name)
        measured.median_s, measured.steps = timing.median_s, timing.steps
        log(f"{config.name} {name}: {timing.median_s * 1e3:.3f} ms (median of {timing.steps})")
    return result


def refusal_message(config: Config, disagreements: list[Disagreement], rtol: float) -> str:
    """Which gradients disagree with the numpy loop's, and by how much."""
    lines = "; ".join(str(d) for d in disagreements)
    return (f"{config.name} not timed: gradients disagree with the {REFERENCE} "
            f"(tolerance {rtol:g} of the largest entry): {lines}")
