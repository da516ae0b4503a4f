"""BLAS threads chosen for the work: small matrix products run on one thread.

NumPy hands every matrix product to its BLAS (OpenBLAS), which splits it over
all cores.  The products of an RNN step are small (a batch of 32 rows times a
128 x 128 matrix: half a million FLOPs), and for them the split costs more
than it saves; on a machine that is busy with anything else, the two halves
also wait for each other, and a run gets up to three times slower.  So the
BPTT driver (``rnn.run``, and ``fit`` and ``gradients`` on top of it) runs
under ``blas_threads(threads_for(flops))``: one thread, unless one product of
the step is large enough to be worth sharing.

    with blas_threads(1):            # every BLAS product in here: one thread
        ...

The limit never raises the thread count above what it was on entry, so a
user's own ``OPENBLAS_NUM_THREADS=1`` or ``threadpool_limits(1)`` stays in force.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache

from threadpoolctl import ThreadpoolController

#: a product of at least this many FLOPs may use every BLAS thread.  A trade, measured
#: on 2 cores (``python -m benchmarks --only load``, benchmarks/RESULTS.md): a C2 step
#: (products of 1e6 FLOPs) ran 0.86x as long on two threads as on one with the machine
#: to itself, but 1.30x next to a busy process; a C3 step (64 x 512 times 512 x 512:
#: 3.4e7 FLOPs) 0.66x and 2.66x.  Small steps gain little and risk much, so they get
#: one thread; from 2^24 FLOPs the gain is large enough to take the risk.
SHARED_PRODUCT_FLOPS = 2 ** 24


@lru_cache(maxsize=None)
def _blas():
    """The BLAS libraries numpy loaded, found once (finding them takes a few ms)."""
    return ThreadpoolController().select(user_api="blas")


def current() -> int:
    """How many threads the BLAS uses now (1 when numpy has no BLAS threadpool to see)."""
    return max((lib.num_threads for lib in _blas().lib_controllers), default=1)


def threads_for(product_flops: float) -> int:
    """The BLAS threads for work whose largest product costs ``product_flops``:
    all of them (``current()``) from ``SHARED_PRODUCT_FLOPS`` on, else one."""
    return current() if product_flops >= SHARED_PRODUCT_FLOPS else 1


@contextmanager
def blas_threads(n: int):
    """Run the block with at most ``n`` BLAS threads (never more than on entry); restore on exit.

    It sets each library's count directly rather than through threadpoolctl's
    ``limit`` (which costs about 15 us, a tenth of a small training step)."""
    libraries = _blas().lib_controllers
    before = [lib.num_threads for lib in libraries]
    if all(count <= n for count in before):
        yield
        return
    for lib, count in zip(libraries, before):
        lib.set_num_threads(min(n, count))
    try:
        yield
    finally:
        for lib, count in zip(libraries, before):
            lib.set_num_threads(count)


__all__ = ["SHARED_PRODUCT_FLOPS", "blas_threads", "current", "threads_for"]
