"""The argument checks that the engine and the RNN library share: one home for each rule.

Each returns the value as a plain Python number and raises a ``ValueError`` (a
``ArgumentTypeError`` for the wrong kind of value, which is both a TypeError
and a ValueError) whose message names the argument, what it must be and what it got.  Numbers may be Python or NumPy scalars;
``True``/``False`` are refused: a bool passed as a count or probability is
always a mistake (``Randomized(True)`` is not p = 1).
"""

from __future__ import annotations

import math
import numbers


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong kind (a string or a bool where a number belongs).

    Both a TypeError (what it is) and a ValueError (what callers that check a
    value's range already catch), so one ``except ValueError`` handles every bad argument.
    """


def _is_number(value, kind) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def positive_int(name: str, value, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (a length, a window, a size)."""
    if not _is_number(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be an integer >= {minimum}, got {value!r} of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def real(name: str, value) -> float:
    """A finite real number."""
    if not _is_number(value, numbers.Real):
        raise ArgumentTypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def probability(name: str, value, low_open: bool = True, high_open: bool = False) -> float:
    """A number in the interval (0, 1] by default; ``low_open``/``high_open`` choose the ends."""
    value = real(name, value)
    low, high = "(" if low_open else "[", ")" if high_open else "]"
    above = value > 0 if low_open else value >= 0
    below = value < 1 if high_open else value <= 1
    if not (above and below):
        raise ValueError(f"{name} must be in {low}0, 1{high}, got {value!r}")
    return value


def seed(name: str, value) -> int:
    """A random seed: a non-negative integer (what ``numpy.random.default_rng`` takes)."""
    if not _is_number(value, numbers.Integral):
        raise ArgumentTypeError(f"{name} must be a non-negative integer (a random seed), got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer (a random seed), got {value!r}")
    return int(value)
