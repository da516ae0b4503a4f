"""What the public and hidden tests of assignment 3 share: a problem to run, and exact comparisons.

The tests import it as ``helpers`` (pytest.ini puts tests/ on the path).
"""

import checks
import numpy as np

import rnn

# Tighter than checks.check_close's default: your plans and your loop run the engine's own ops on its
# tape, so the gradients must be the engine's up to rounding ("exact", as the tests' docstrings say).
RTOL, ATOL = 1e-9, 1e-12


def problem(T, batch=None, n_in=3, n=4, n_out=2, seed=0):
    """An Elman RNN and random data of T steps."""
    model = rnn.ElmanRNN(n_in, n, n_out, seed=seed)
    rng = np.random.default_rng(seed + 100)
    lead = (T,) if batch is None else (T, batch)
    return model, rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))


def check_close(got, want, what):
    """checks.check_close at this assignment's tolerances, RTOL and ATOL above."""
    checks.check_close(got, want, what, rtol=RTOL, atol=ATOL)


def check_updates(got, want, what):
    """Fail unless ``got`` and ``want``, lists of {parameter name: gradient}, hold the same updates."""
    assert len(got) == len(want), f"{what}: {len(got)} updates, expected {len(want)}"
    for i, (mine, theirs) in enumerate(zip(got, want)):
        assert set(mine) == set(theirs), f"{what}, update {i}: parameters {sorted(mine)}, expected {sorted(theirs)}"
        for name in theirs:
            check_close(mine[name], theirs[name], f"{what}, update {i}, dL/d{name}")
