"""Hand-written BPTT for the benchmark's Elman char-RNN, in plain numpy.

Two ways to write the same training step (see ``configs.py`` for the model):

* ``step_loop``: the textbook loop.  Every time step does its own matrix
  products, forward and backward, exactly as the equations are written.
* ``step_hoisted``: only the recurrence stays in the loop.  The input
  projection B x_t for all T steps is one matrix product before the loop, the
  logits for all T steps one product after it, and dA, dB, dC are each one
  product over the stacked window.  Same maths, ~3x fewer numpy calls.

Both take the weights as a dict {"A", "B", "C"} of arrays, one-hot inputs xs
(T, batch, vocab) and integer targets ys (T, batch); they return the summed
loss and the gradients (taken before the update) and apply the SGD update
W <- W - lr dW in place.  ``lr=0`` leaves the weights unchanged.  Everything
stays in the dtype of the weights (float32 in the benchmark).

Shapes: A (H, H), B (H, V), C (V, H); a batch of hidden states is (batch, H),
one example per row, so A h is written ``h @ A.T``.
"""

from __future__ import annotations

import numpy as np


def softmax_cross_entropy(logits: np.ndarray, targets: np.ndarray):
    """Summed cross-entropy of rows of logits (..., V) under integer targets (...),
    and dL/dlogits = softmax(logits) - onehot(target), row by row.

    The row maximum is subtracted before exponentiating, so large logits stay finite.
    """
    rows = logits.reshape(-1, logits.shape[-1])
    labels = targets.reshape(-1)
    every_row = np.arange(len(labels))
    shifted = rows - rows.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1)
    loss = float((np.log(total) - shifted[every_row, labels]).sum())
    dlogits = e / total[:, None]
    dlogits[every_row, labels] -= 1
    return loss, dlogits.reshape(logits.shape)


def sgd(weights: dict, grads: dict, lr: float) -> None:
    """W <- W - lr dW, in place, for every weight."""
    if lr:
        for name, w in weights.items():
            w -= w.dtype.type(lr) * grads[name]


def step_loop(weights: dict, xs: np.ndarray, ys: np.ndarray, lr: float):
    """One training step, one time step at a time (the textbook BPTT loop).

    Forward, t = 1..T:  h_t = tanh(A h_{t-1} + B x_t),  logits_t = C h_t.
    Backward, t = T..1, with dh carrying dL/dh_t from the future:
        dlogits_t = softmax(logits_t) - onehot(y_t)
        dC += dlogits_t h_t^T;   dh = C^T dlogits_t + dh_next
        delta = dh * (1 - h_t^2)                       (through tanh)
        dA += delta h_{t-1}^T;   dB += delta x_t^T;    dh_next = A^T delta
    Returns (loss, {"A": dA, "B": dB, "C": dC}) and updates the weights by SGD.
    """
    A, B, C = weights["A"], weights["B"], weights["C"]
    T, batch, _ = xs.shape
    hs = [np.zeros((batch, A.shape[0]), dtype=A.dtype)]
    dlogits, loss = [], 0.0
    for t in range(T):
        hs.append(np.tanh(hs[t] @ A.T + xs[t] @ B.T))
        step_loss, step_dlogits = softmax_cross_entropy(hs[t + 1] @ C.T, ys[t])
        loss += step_loss
        dlogits.append(step_dlogits)
    dA, dB, dC = np.zeros_like(A), np.zeros_like(B), np.zeros_like(C)
    dh_next = np.zeros_like(hs[0])
    for t in reversed(range(T)):
        dC += dlogits[t].T @ hs[t + 1]
        dh = dlogits[t] @ C + dh_next
        delta = dh * (1 - hs[t + 1] ** 2)
        dA += delta.T @ hs[t]
        dB += delta.T @ xs[t]
        dh_next = delta @ A
    grads = {"A": dA, "B": dB, "C": dC}
    sgd(weights, grads, lr)
    return loss, grads


def forward_hoisted(A, B, C, xs, ys, recurrence=None):
    """The forward pass with the projections hoisted out of the loop.

    P = X B^T for all steps at once, then the loop h_t = tanh(A h_{t-1} + P_t)
    (or ``recurrence(A, P, H)``, which fills H[1:] the same way), then the
    logits of all steps as one product.  Returns (loss, H (T+1, batch, hidden)
    with H[0] = h_0 = 0, dlogits (T, batch, V)).
    """
    T, batch, vocab = xs.shape
    hidden = A.shape[0]
    P = (xs.reshape(T * batch, vocab) @ B.T).reshape(T, batch, hidden)
    H = np.zeros((T + 1, batch, hidden), dtype=A.dtype)
    if recurrence is None:
        for t in range(T):
            np.tanh(H[t] @ A.T + P[t], out=H[t + 1])
    else:
        recurrence(A, P, H)
    logits = (H[1:].reshape(T * batch, hidden) @ C.T).reshape(T, batch, vocab)
    loss, dlogits = softmax_cross_entropy(logits, ys)
    return loss, H, dlogits


def backward_hoisted(A, B, C, xs, H, dlogits, recurrence=None):
    """BPTT with only the recurrence in the loop; dA, dB, dC as one product each over the window.

    dH = dlogits C (all steps at once: the part of dL/dh_t that comes from logits_t);
    then, t = T..1:  delta_t = (dH_t + dh_next) * (1 - h_t^2),  dh_next = A^T delta_t
    (or ``recurrence(A, H, dH, deltas)``, which fills the deltas the same way);
    then dA = sum_t delta_t h_{t-1}^T, dB = sum_t delta_t x_t^T, dC = sum_t dlogits_t h_t^T.
    """
    T, batch, vocab = xs.shape
    hidden = A.shape[0]
    dH = (dlogits.reshape(T * batch, vocab) @ C).reshape(T, batch, hidden)
    deltas = np.empty_like(dH)
    if recurrence is None:
        dh_next = np.zeros((batch, hidden), dtype=A.dtype)
        for t in reversed(range(T)):
            np.multiply(dH[t] + dh_next, 1 - H[t + 1] ** 2, out=deltas[t])
            dh_next = deltas[t] @ A
    else:
        recurrence(A, H, dH, deltas)
    stacked_deltas = deltas.reshape(T * batch, hidden)
    return {
        "A": stacked_deltas.T @ H[:-1].reshape(T * batch, hidden),
        "B": stacked_deltas.T @ xs.reshape(T * batch, vocab),
        "C": dlogits.reshape(T * batch, vocab).T @ H[1:].reshape(T * batch, hidden),
    }


def step_hoisted(weights: dict, xs: np.ndarray, ys: np.ndarray, lr: float):
    """One training step with the projections hoisted out of the time loop (see the module docstring).

    Returns (loss, {"A": dA, "B": dB, "C": dC}) and updates the weights by SGD.
    """
    A, B, C = weights["A"], weights["B"], weights["C"]
    loss, H, dlogits = forward_hoisted(A, B, C, xs, ys)
    grads = backward_hoisted(A, B, C, xs, H, dlogits)
    sgd(weights, grads, lr)
    return loss, grads
