"""numba kernels for the hot loops: the only part of minigrad that imports numba.

Every kernel is ``@njit(cache=True)`` (compiled once, then loaded from the
on-disk cache), works in place on contiguous arrays or returns a new one, and
its docstring is its specification: the loop it implements.  Run with
``NUMBA_DISABLE_JIT=1`` the same functions execute as plain Python and must give
the same numbers (the tests check this).  Matrix products are not here: they
go to NumPy's BLAS.

The kernels of one module inline helpers of another (``activations``), which
numba's per-file cache check does not see; ``cache.clear_stale_cache`` runs
first, before any kernel module is imported, and drops every cached kernel of
this package when any of its sources changed.
"""

from .cache import clear_stale_cache

clear_stale_cache()

from .activations import (  # noqa: E402  (after the cache check, on purpose)
    ACTIVATION_CODES,
    IDENTITY,
    NUMPY_FORMULAS,
    RELU,
    SIGMOID,
    TANH,
    activation_backward,
    activation_forward,
    tanh_rational,
)
from .indexing import first_out_of_range, scatter_add_rows  # noqa: E402
from .losses import softmax_cross_entropy_backward, softmax_cross_entropy_forward  # noqa: E402
from .optim import adagrad_update, adam_update, sgd_update  # noqa: E402
from .rnn import add_vector_times_matrix, elman_scan_backward, elman_scan_forward, rnn_step_delta  # noqa: E402

__all__ = [
    "ACTIVATION_CODES",
    "IDENTITY",
    "NUMPY_FORMULAS",
    "RELU",
    "SIGMOID",
    "TANH",
    "activation_backward",
    "activation_forward",
    "softmax_cross_entropy_backward",
    "softmax_cross_entropy_forward",
    "adagrad_update",
    "add_vector_times_matrix",
    "adam_update",
    "elman_scan_backward",
    "elman_scan_forward",
    "sgd_update",
    "rnn_step_delta",
    "scatter_add_rows",
    "tanh_rational",
    "first_out_of_range",
]
