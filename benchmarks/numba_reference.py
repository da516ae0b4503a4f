"""The hoisted numpy step with its two time loops compiled by numba.

``references.step_hoisted`` leaves only the recurrence in a Python loop; here
that loop (forward and backward) is a numba kernel, so a small step costs a
handful of numpy calls plus two compiled loops.  Matrix products outside the
loop stay numpy's (one BLAS for every matmul: numba's ``np.dot`` would need
scipy and bring its own BLAS thread pool).  Inside the kernels, A h is written
as plain loops (vectorized by the compiler), which pays only while it is a
small product: a batch of one, as in the char-rnn configuration C1.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .references import backward_hoisted, forward_hoisted, sgd


@njit(cache=True)
def recurrence_forward(AT, P, H):
    """H[t + 1] = tanh(A H[t] + P[t]) for t = 0..T-1 (H[0] holds h_0), given AT = A^T contiguous:

        for t in range(T):
            for b in range(batch):
                acc = P[t, b, :]                              # the hoisted B x_t
                for j in range(hidden):
                    acc[:] += AT[j, :] * H[t, b, j]           # A h as a sum of A's columns
                H[t + 1, b, :] = tanh(acc)

    Adding columns of A (rows of AT) makes the innermost loop a contiguous
    multiply-add that the compiler vectorizes; the dot-product order (a sum
    over j for each i) is a reduction it may not reorder, about 5x slower.
    """
    T, batch, hidden = P.shape
    acc = np.empty(hidden, dtype=P.dtype)
    for t in range(T):
        for b in range(batch):
            for i in range(hidden):
                acc[i] = P[t, b, i]
            for j in range(hidden):
                h_j = H[t, b, j]
                for i in range(hidden):
                    acc[i] += AT[j, i] * h_j
            for i in range(hidden):
                H[t + 1, b, i] = math.tanh(acc[i])


@njit(cache=True)
def recurrence_backward(A, H, dH, deltas):
    """deltas[t] = (dH[t] + A^T deltas[t + 1]) * (1 - H[t + 1]^2), for t = T-1 down to 0:

        carry = 0                                   # dL/dh_t from the future, (batch, hidden)
        for t in reversed(range(T)):
            for b in range(batch):
                deltas[t, b, :] = (dH[t, b, :] + carry[b, :]) * (1 - H[t + 1, b, :]^2)
                carry[b, :] = sum_i deltas[t, b, i] A[i, :]    # A^T delta, row by row of A
    """
    T, batch, hidden = dH.shape
    carry = np.zeros_like(dH[0])
    for t in range(T - 1, -1, -1):
        for b in range(batch):
            for i in range(hidden):
                h = H[t + 1, b, i]
                deltas[t, b, i] = (dH[t, b, i] + carry[b, i]) * (1 - h * h)
            for j in range(hidden):
                carry[b, j] = 0
            for i in range(hidden):
                d = deltas[t, b, i]
                for j in range(hidden):
                    carry[b, j] += d * A[i, j]


def step_numba(weights: dict, xs, ys, lr: float):
    """One training step: numpy projections, numba recurrence (forward and backward), SGD.

    Returns (loss, {"A": dA, "B": dB, "C": dC}) and updates the weights in place.
    """
    A, B, C = weights["A"], weights["B"], weights["C"]
    AT = np.ascontiguousarray(A.T)  # the forward kernel reads A by columns: rows of A^T
    loss, H, dlogits = forward_hoisted(A, B, C, xs, ys, recurrence=lambda _, P, H: recurrence_forward(AT, P, H))
    grads = backward_hoisted(A, B, C, xs, H, dlogits, recurrence=recurrence_backward)
    sgd(weights, grads, lr)
    return loss, grads
