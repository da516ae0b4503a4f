r"""Assignment 2: backpropagation through time by hand, for the Elman RNN, in plain NumPy.

The network and its loss (t = 1..T, h_0 = 0):

    pre_t   = A h_{t-1} + B x_t,       h_t     = f(pre_t)
    q_t     = C h_t,                   y_hat_t = g(q_t)
    L       = 1/2 \sum_t ||y_hat_t - y_t||^2          (summed over the batch too)

Shapes.  xs is (T, n_in) for one sequence or (T, batch, n_in) for a batch;
A is (n, n), B (n, n_in), C (n_out, n).  A vector is a row of an array, so
"A h" is written ``h @ A.T`` and works for one row or a batch of rows alike.
Per-step arrays hold step t at index t - 1, except ``h``, which also holds
h_0: ``h[t]`` is h_t.

Activations are given with their derivative written through their output
(tanh' = 1 - y^2, ...): ``f_prime(h_t)`` is f'(pre_t).  Your code must work
for every activation in ACTIVATIONS, for f and for g, and with or without a
batch axis: the hidden tests use ones the public tests do not.

No minigrad here: the point is to write the recursion the engine runs for you.
"""

import numpy as np

ACTIVATIONS = {
    # name: (the function, its derivative as a function of the function's output y)
    "identity": (lambda z: z, lambda y: np.ones_like(y)),
    "tanh": (np.tanh, lambda y: 1.0 - y * y),
    "sigmoid": (lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)), lambda y: y * (1.0 - y)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda y: (y > 0).astype(y.dtype)),
}


def activation(name):
    """(f, f') for an activation name; a ValueError naming the choices otherwise."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def forward(A, B, C, xs, f="tanh", g="identity"):
    """Run the network: {"h": h_0..h_T (T + 1 entries), "y_hat": y_hat_1..y_hat_T}."""
    f_fn, _ = activation(f)
    g_fn, _ = activation(g)
    xs = np.asarray(xs, dtype=float)
    h = np.zeros((len(xs) + 1,) + xs.shape[1:-1] + (A.shape[0],))
    for t in range(1, len(xs) + 1):
        h[t] = f_fn(h[t - 1] @ A.T + xs[t - 1] @ B.T)
    return {"h": h, "y_hat": g_fn(h[1:] @ C.T)}


def output_grads(y_hat, ys, g="identity"):
    """dL/dq_t = g'(q_t) * (y_hat_t - y_t) for every step: shape (T, [batch,] n_out)."""
    _, g_prime = activation(g)
    return g_prime(y_hat) * (y_hat - ys)


def hidden_grads(A, C, h, dq, f="tanh"):
    r"""dL/dh_t for t = 1..T, by the backward recursion; shape (T, [batch,] n), dL/dh_t at index t - 1.

    h_t reaches L directly, through y_hat_t, and through h_{t+1}:

        dL/dh_T = C^T dL/dq_T
        dL/dh_t = C^T dL/dq_t + A^T (f'(pre_{t+1}) * dL/dh_{t+1}),     t < T

    ``h`` holds h_0..h_T, ``dq`` holds dL/dq_1..dL/dq_T (from ``output_grads``).
    """
    _, f_prime = activation(f)
    # Hint: walk t from T down to 1.  With rows for vectors, "C^T v" is v @ C and
    # "A^T v" is v @ A; f'(pre_{t+1}) is f_prime(h[t + 1]).
    # BEGIN SOLUTION task2_1
    T = len(dq)
    dh = np.zeros(dq.shape[:-1] + (A.shape[0],))
    dh[T - 1] = dq[T - 1] @ C
    for t in range(T - 1, 0, -1):
        dh[t - 1] = dq[t - 1] @ C + (f_prime(h[t + 1]) * dh[t]) @ A
    return dh
    # END SOLUTION


def recurrent_grads(h, xs, dh, f="tanh"):
    r"""(dL/dA, dL/dB) from the states h_0..h_T, the inputs and dL/dh_1..dL/dh_T.

    With delta_t = dL/dpre_t = f'(pre_t) * dL/dh_t:

        dL/dA = \sum_t delta_t h_{t-1}^T,      dL/dB = \sum_t delta_t x_t^T

    summed over the batch too.
    """
    _, f_prime = activation(f)
    # Hint: an outer product u v^T summed over steps (and batch) is one matrix product
    # once u and v are flattened to rows: u.reshape(-1, u.shape[-1]).T @ v.reshape(-1, v.shape[-1]).
    # BEGIN SOLUTION task2_2
    xs = np.asarray(xs, dtype=float)
    delta = f_prime(h[1:]) * dh
    rows = delta.reshape(-1, delta.shape[-1])
    dA = rows.T @ h[:-1].reshape(-1, h.shape[-1])
    dB = rows.T @ xs.reshape(-1, xs.shape[-1])
    return dA, dB
    # END SOLUTION


def readout_grad(h, dq):
    r"""dL/dC = \sum_t dL/dq_t h_t^T (summed over the batch too), from h_0..h_T and dL/dq_1..dL/dq_T."""
    # Hint: which states does y_hat_t see?  Not h_0.
    # BEGIN SOLUTION task2_3
    return dq.reshape(-1, dq.shape[-1]).T @ h[1:].reshape(-1, h.shape[-1])
    # END SOLUTION


def gradients(A, B, C, xs, ys, f="tanh", g="identity"):
    """{"A": dL/dA, "B": dL/dB, "C": dL/dC}: the three parts put together."""
    A, B, C = (np.asarray(M, dtype=float) for M in (A, B, C))
    run = forward(A, B, C, xs, f, g)
    dq = output_grads(run["y_hat"], np.asarray(ys, dtype=float), g)
    dh = hidden_grads(A, C, run["h"], dq, f)
    dA, dB = recurrent_grads(run["h"], xs, dh, f)
    return {"A": dA, "B": dB, "C": readout_grad(run["h"], dq)}
