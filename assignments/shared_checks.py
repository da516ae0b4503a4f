"""The comparison every assignment's tests use: copied into each assignment folder as checks.py.

You do not need to edit it.  The tests compare what your code returns with
what it should return through ``check_close``; when they differ, the first
line of the failure says which array, by how much, and where, for example

    AssertionError: dL/dC (batch=None): off by up to 2.87 (at (1, 1): 0.972441, expected -1.89699)

that is: the largest gap is 2.87, at index (1, 1), where your array holds
0.972441 and the right value is -1.89699.  A wrong shape, or something that is
not an array of numbers, is named the same way.
"""

import numpy as np

# Each element passes when |got - want| <= ATOL + RTOL * |want| (numpy.allclose): loose enough for
# rounding (the same maths in another order), far tighter than any mistake in a formula.
RTOL, ATOL = 1e-7, 1e-10


def check_close(got, want, what, rtol=RTOL, atol=ATOL):
    """Fail, naming ``what`` and its worst element on the first line, unless ``got`` matches ``want``."""
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: got {type(got).__name__}, expected an array of shape {np.shape(want)}") from None
    want = np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape}, expected {want.shape}")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        gap = np.where(np.isnan(got), np.inf, np.abs(got - want))
        worst = np.unravel_index(np.argmax(gap), gap.shape)
        raise AssertionError(
            f"{what}: off by up to {gap[worst]:.3g} (at {tuple(int(i) for i in worst)}: "
            f"{got[worst]:.6g}, expected {want[worst]:.6g})"
        )
