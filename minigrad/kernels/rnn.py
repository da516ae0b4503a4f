"""The element-wise parts of a fused recurrent step, forward and backward.

A fused Elman step computes h = f(A h_prev + B x) as two BLAS products and one
pass, which adds them and applies f without a temporary.  A fused segment's
backward, at each step, adds the gradient from the loss to the one carried
back from the next step and multiplies by f'(.), again in one pass.
"""

import numpy as np
from numba import njit

from .activations import activate, derivative_from_output


@njit(cache=True)
def rnn_cell_forward(recurrent, projected, code, out):
    """out[i] = f(recurrent[i] + projected[i]) in place (f by code, as in ACTIVATION_CODES)."""
    for i in range(out.size):
        out[i] = activate(recurrent[i] + projected[i], code)


@njit(cache=True)
def rnn_step_delta(h, grad, carried, code, out):
    """out[i] = (grad[i] + carried[i]) * f'(z[i]), f' written through h = f(z).

    dL/dz_t of one step: the loss's gradient at h_t plus the gradient carried
    back from step t+1, times the activation's slope.  tanh has its own
    branch-free loop, which the compiler vectorises.
    """
    if code == 1:
        for i in range(out.size):
            out[i] = (grad[i] + carried[i]) * (1 - h[i] * h[i])
        return
    for i in range(out.size):
        out[i] = (grad[i] + carried[i]) * derivative_from_output(h[i], code)


@njit(cache=True)
def elman_scan_forward(At, p, h0, code, states):
    """states[t, r] = f(states[t-1, r] @ At + p[t, r]) for t = 0..L-1, with states[-1] = h0:

        for t, for each row r:
            acc = p[t, r]
            for j: acc += At[j] * h_prev[j]       # A h as a sum of A's columns
            states[t, r] = f(acc)

    The whole recurrence of a small Elman RNN in one call, for sizes where a
    BLAS call per step costs more in overhead than in arithmetic.  p, states:
    (L, R, H) contiguous (R rows: the batch); h0: (R, H); At = A^T, contiguous.
    The innermost loop is a contiguous multiply-add into a separate buffer,
    which the compiler vectorises (a dot product per unit would be a
    reduction it may not reorder, and writing into ``states`` while reading
    it would stop it for fear of overlap).
    """
    L, R, H = p.shape
    acc = np.empty(H, dtype=states.dtype)
    for t in range(L):
        for r in range(R):
            for i in range(H):
                acc[i] = p[t, r, i]
            for j in range(H):
                hj = h0[r, j] if t == 0 else states[t - 1, r, j]
                for i in range(H):
                    acc[i] += At[j, i] * hj
            for i in range(H):
                states[t, r, i] = activate(acc[i], code)


@njit(cache=True)
def elman_scan_backward(A, states, grad, factors, code, deltas, carried):
    """The backward of ``elman_scan_forward``, newest step first:

        deltas[t] = (grad[t] + carried) * f'(.)    (f' through states[t])
        carried   = factors[t] * deltas[t] @ A     (dL/dh_{t-1}; factor 0 cuts)

    ``carried`` (R, H) comes in as zeros and leaves as dL/dh_0.
    """
    L, R, H = states.shape
    for t in range(L - 1, -1, -1):
        factor = factors[t]
        for r in range(R):
            for i in range(H):
                deltas[t, r, i] = (grad[t, r, i] + carried[r, i]) * derivative_from_output(states[t, r, i], code)
            for j in range(H):
                carried[r, j] = 0
            if factor != 0:
                for i in range(H):
                    d = deltas[t, r, i] * factor
                    for j in range(H):
                        carried[r, j] += d * A[i, j]
