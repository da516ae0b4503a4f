"""The argument checks that the engine and the RNN library share: one home for each rule.

Each returns the value as a plain Python number and raises a ``ValueError`` (a
``ArgumentTypeError`` for the wrong kind of value, which is both a TypeError
and a ValueError) whose message names the argument, what it must be and what it got.  Numbers may be Python or NumPy scalars;
``True``/``False`` are refused: a bool passed as a count or probability is
always a mistake (``Randomized(True)`` is not p = 1).

The path checks (``creatable_folder``, ``writable_file``, ``readable_file``) are
what every command line runs before any work, so a bad ``--out`` or input file is
one line and exit code 2, never a traceback after minutes of training.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong kind (a string or a bool where a number belongs).

    Both a TypeError (what it is) and a ValueError (what callers that check a
    value's range already catch), so one ``except ValueError`` handles every bad argument.
    """


def _is_number(value, kind) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def positive_int(name: str, value, minimum: int = 1) -> int:
    """An integer >= ``minimum`` (a length, a window, a size)."""
    if type(value) is int and value >= minimum:  # the common case first: the ABC check below takes microseconds
        return value
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


# -- paths: what a command line checks before any work ------------------------------------
def _nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest ancestor that exists (the folder a new path would be made in)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def creatable_folder(name: str, path) -> Path:
    """A folder that exists and is writable, or that can be created (its nearest existing ancestor is a
    writable folder).  Nothing is created.  ``name`` is the flag (``"--out"``) the message names."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {path}: exists and is not a folder")
    base = _nearest_existing(path)
    if not base.is_dir():
        raise ValueError(f"{name} {path}: cannot be created, because {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        what = "is not writable" if base == Path(os.path.abspath(path)) else f"cannot be created: {base} is not writable"
        raise ValueError(f"{name} {path}: {what}")
    return path


def writable_file(name: str, path) -> Path:
    """A file that may be written: not a folder, writable if it exists, and its folder exists or can be
    created.  Nothing is created."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{name} {path}: is a folder; give a file name")
    if path.exists() and not os.access(path, os.W_OK):
        raise ValueError(f"{name} {path}: exists and is not writable")
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise ValueError(f"{name} {path}: cannot be written, because {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {path}: cannot be written: the folder {base} is not writable")
    return path


def readable_file(name: str, path) -> Path:
    """An existing regular file that can be opened for reading (opened and closed here)."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{name} {path}: no such file")
    if path.is_dir():
        raise ValueError(f"{name} {path}: is a folder, not a file")
    if not path.is_file():
        raise ValueError(f"{name} {path}: is not a regular file")
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise ValueError(f"{name} {path}: cannot be read ({error.strerror or error})") from None
    return path
