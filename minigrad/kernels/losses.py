"""Fused softmax + cross-entropy on rows of logits.

Forward, backward and tangent (forward mode) in one pass each, stable for logits of any size: the row
maximum is subtracted before exponentiating, so logits of 1e4 give exact
finite losses.  A target below 0 means "no target here": its row has loss 0
and gradient 0 (tasks use it for steps without a label).
"""

import math

import numpy as np
from numba import njit


@njit(cache=True)
def softmax_cross_entropy_forward(logits, targets):
    """For each row n: probs[n] = softmax(logits[n]); loss[n] = logsumexp(logits[n]) - logits[n, targets[n]].

    logits: (N, C) contiguous; targets: (N,) int64. Returns (loss (N,), probs (N, C)).
    """
    n_rows, n_classes = logits.shape
    loss = np.zeros(n_rows, dtype=logits.dtype)
    probs = np.empty_like(logits)
    for n in range(n_rows):
        m = logits[n, 0]
        for c in range(1, n_classes):
            if logits[n, c] > m:
                m = logits[n, c]
        total = 0.0
        for c in range(n_classes):
            e = math.exp(logits[n, c] - m)
            probs[n, c] = e
            total += e
        for c in range(n_classes):
            probs[n, c] /= total
        t = targets[n]
        if t >= 0:
            loss[n] = m + math.log(total) - logits[n, t]
    return loss, probs


@njit(cache=True)
def softmax_cross_entropy_backward(probs, targets, grad_rows):
    """dlogits[n, c] = grad_rows[n] * (probs[n, c] - [c == targets[n]]); 0 for rows without a target."""
    n_rows, n_classes = probs.shape
    out = np.zeros_like(probs)
    for n in range(n_rows):
        t = targets[n]
        if t < 0:
            continue
        g = grad_rows[n]
        for c in range(n_classes):
            out[n, c] = g * probs[n, c]
        out[n, t] -= g
    return out


@njit(cache=True)
def softmax_cross_entropy_tangent(probs, targets, tangents):
    """dloss[n] = sum_c probs[n, c] * tangents[n, c] - tangents[n, targets[n]]; 0 for rows without a target.

    The forward-mode twin of the backward: the change of each row's loss along the
    logits' tangent (N, C), read against the saved probabilities; no (N, C) temporary.
    """
    n_rows, n_classes = probs.shape
    out = np.zeros(n_rows, dtype=probs.dtype)
    for n in range(n_rows):
        t = targets[n]
        if t < 0:
            continue
        total = 0.0
        for c in range(n_classes):
            total += probs[n, c] * tangents[n, c]
        out[n] = total - tangents[n, t]
    return out
