"""Equal gradients before timing: a fast wrong answer is not a result.

Every implementation's dA, dB, dC (taken before the SGD update) must equal the
numpy loop reference's within a float32 tolerance, measured relative to the
largest entry of the reference gradient:

    error = max |got - want| / max |want|        for each of A, B and C

A configuration where any implementation disagrees is not timed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: float32 keeps ~7 digits; summing T * batch terms loses a few of them
RTOL = 1e-3


@dataclass(frozen=True)
class Disagreement:
    """One implementation's gradient of one parameter that differs from the reference."""

    implementation: str
    parameter: str
    error: float  # max |got - want| / max |want|; inf for a missing or misshapen gradient
    detail: str = ""

    def __str__(self) -> str:
        if self.detail:
            return f"{self.implementation}: d{self.parameter} {self.detail}"
        return f"{self.implementation}: d{self.parameter} differs by {self.error:.2e} of its largest entry"


def relative_error(got: np.ndarray, want: np.ndarray) -> float:
    """max |got - want| / max |want| (the plain max difference when want is all zeros)."""
    scale = float(np.abs(want).max()) if want.size else 0.0
    diff = float(np.abs(np.asarray(got, dtype=np.float64) - want).max()) if want.size else 0.0
    return diff / scale if scale > 0 else diff


def parameter_error(got, want: np.ndarray) -> tuple[float, str]:
    """(relative error, what is wrong beyond a number): inf and a reason for a missing,
    misshapen or non-finite gradient."""
    if got is None:
        return np.inf, "is missing"
    if np.shape(got) != want.shape:
        return np.inf, f"has shape {np.shape(got)}, the reference {want.shape}"
    if not np.all(np.isfinite(got)):
        return np.inf, "has non-finite entries"
    return relative_error(got, want), ""


def worst_error(reference: dict, grads: dict) -> float:
    """The largest relative error over the reference's parameters."""
    return max(parameter_error(grads.get(name), want)[0] for name, want in reference.items())


def compare_gradients(reference: dict, candidates: dict, rtol: float = RTOL) -> list[Disagreement]:
    """Every (implementation, parameter) whose gradient is not within ``rtol`` of the reference's.

    ``reference``: {parameter: array}; ``candidates``: {implementation name: {parameter: array}}.
    A missing parameter, a wrong shape or a non-finite value is a disagreement too.
    """
    found = []
    for name, grads in candidates.items():
        for parameter, want in reference.items():
            error, detail = parameter_error(grads.get(parameter), want)
            if not error <= rtol:
                found.append(Disagreement(name, parameter, error, detail))
    return found
