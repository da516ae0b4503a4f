"""The Elman recurrence h_t = f(A h_{t-1} + p_t) over a segment, forward and backward.

``elman_scan_forward``/``elman_scan_backward`` run a whole segment in one call
each, for sizes where a BLAS call per step costs more in overhead than in
arithmetic; for larger ones ``rnn.fused`` calls BLAS once per step and
``rnn_step_delta`` for the element-wise part of each step's backward: add the
gradient from the loss to the one carried back from the next step and
multiply by f'(.), in one pass.  f is chosen by an activation code, one of the
named constants of ``activations``.  ``one_hot_positions`` reads one-hot
inputs as the token indices they spell.
"""

import math

import numpy as np
from numba import njit

from .activations import TANH, activate, derivative_from_output, tanh_rational


@njit(cache=True)
def rnn_step_delta(h, grad, carried, code, out):
    """out[i] = (grad[i] + carried[i]) * f'(z[i]), f' written through h = f(z).

    dL/dz_t of one step: the loss's gradient at h_t plus the gradient carried
    back from step t+1, times the activation's slope.  tanh has its own
    branch-free loop, which the compiler vectorises.
    """
    if code == TANH:
        for i in range(out.size):
            out[i] = (grad[i] + carried[i]) * (1 - h[i] * h[i])
        return
    for i in range(out.size):
        out[i] = (grad[i] + carried[i]) * derivative_from_output(h[i], code)


@njit(cache=True)
def add_vector_times_matrix(v, M, acc):
    """acc += v @ M, that is acc[i] += sum_k v[k] M[k, i], for a contiguous M of shape (K, N).

    The rows of M are added four at a time, so each pass over ``acc`` does
    four multiply-adds per load and store of it: about twice as fast as one
    row per pass (the loop over i is contiguous, and the compiler vectorises
    it).  ``acc`` must not overlap v or M.
    """
    K, N = M.shape
    k = 0
    while k + 4 <= K:
        v0, v1, v2, v3 = v[k], v[k + 1], v[k + 2], v[k + 3]
        for i in range(N):
            acc[i] += v0 * M[k, i] + v1 * M[k + 1, i] + v2 * M[k + 2, i] + v3 * M[k + 3, i]
        k += 4
    while k < K:  # the last rows when K is not a multiple of four
        vk = v[k]
        for i in range(N):
            acc[i] += vk * M[k, i]
        k += 1


@njit(cache=True)
def elman_scan_forward(At, p, code, path):
    """path[t + 1, r] = f(path[t, r] @ At + p[t, r]) for t = 0..L-1, path[0] holding h_0:

        for t, for each row r:
            acc = p[t, r] + path[t, r] @ At        # A h as a sum of A's columns
            path[t + 1, r] = f(acc)

    The whole recurrence of a small Elman RNN in one call, for sizes where a
    BLAS call per step costs more in overhead than in arithmetic.  p: (L, R, H)
    and path: (L + 1, R, H), contiguous (R rows: the batch); At = A^T,
    contiguous.  A h is accumulated into a separate buffer, as a sum of rows
    of A^T (``add_vector_times_matrix``): a contiguous multiply-add the
    compiler vectorises, where a dot product per unit would be a reduction it
    may not reorder.  tanh, the common case, has its own loop without a
    branch on ``code``; in float32 it is ``tanh_rational``, vectorised, which
    made the whole forward about twice as fast (a libm tanh per element cost
    more than the multiply-adds).
    """
    L, R, H = p.shape
    acc = np.empty(H, dtype=path.dtype)
    for t in range(L):
        for r in range(R):
            for i in range(H):
                acc[i] = p[t, r, i]
            add_vector_times_matrix(path[t, r], At, acc)
            if code == TANH and path.itemsize == 4:
                tanh_rational(acc, path[t + 1, r])
            elif code == TANH:
                for i in range(H):
                    path[t + 1, r, i] = math.tanh(acc[i])
            else:
                for i in range(H):
                    path[t + 1, r, i] = activate(acc[i], code)


@njit(cache=True)
def elman_scan_backward(A, path, grad, factors, code, deltas):
    """The backward of ``elman_scan_forward``, newest step first (h_t = path[t]):

        deltas[t] = (grad[t] + carried) * f'(.)    (f' through h_{t+1})
        carried   = factors[t] * deltas[t] @ A     (dL/dh_t; factor 0 cuts)

    Returns the last ``carried``, dL/dh_0, of shape (R, H).  deltas[t] @ A is
    accumulated in a buffer allocated here, which overlaps no argument, so
    the compiler vectorises the loop.
    """
    L, R, H = grad.shape
    carried = np.zeros((R, H), dtype=deltas.dtype)
    acc = np.empty(H, dtype=deltas.dtype)
    for t in range(L - 1, -1, -1):
        factor = factors[t]
        for r in range(R):
            if code == TANH:
                for i in range(H):
                    h = path[t + 1, r, i]
                    deltas[t, r, i] = (grad[t, r, i] + carried[r, i]) * (1 - h * h)
            else:
                for i in range(H):
                    deltas[t, r, i] = (grad[t, r, i] + carried[r, i]) * derivative_from_output(path[t + 1, r, i], code)
            if factor == 0:
                for i in range(H):
                    carried[r, i] = 0
                continue
            for i in range(H):
                acc[i] = 0
            add_vector_times_matrix(deltas[t, r], A, acc)
            for i in range(H):
                carried[r, i] = factor * acc[i]
    return carried


@njit(cache=True)
def one_hot_positions(x, out):
    """Whether every row of x (N, V) is one-hot; if so, out[n] = the column of the 1 in row n:

        for each row n:
            ones     = how many entries equal 1
            nonzeros = how many entries are not 0
            ones == nonzeros == 1   -> out[n] = the column of that 1
            anything else (two 1s, no 1, a 0.5, a NaN)  -> return False

    An input of token indices written as one-hot vectors can then be read as
    indices (``rnn.fused``): B x_t becomes a column lookup.  The test is exact
    (no tolerance) and reads each entry once at most; a row of feature
    vectors ends it.  The counts are sums of comparisons, without a branch
    in the inner loop, which the compiler vectorises (a branch per entry was
    half as fast).
    """
    n_rows, n_columns = x.shape
    for n in range(n_rows):
        ones = 0
        nonzeros = 0
        position = 0
        for c in range(n_columns):
            v = x[n, c]
            ones += v == 1
            nonzeros += v != 0
            position += c * (v == 1)
        if ones != 1 or nonzeros != 1:
            return False
        out[n] = position
    return True
