"""What the public and hidden tests of assignment 5 share: the engine's LSTM kernel, random inputs
and the comparison of whole updates.

The tests import it as ``helpers`` (pytest.ini puts tests/ on the path).
"""

import numpy as np
from checks import check_close

import minigrad as mg
from rnn.gated import lstm_backward, lstm_forward


def step_values(pre, c_prev):
    """(gates, h, c) of one step from pre-activations (rows, 4n) and c_prev (rows, n), by the engine's kernel."""
    gates = np.empty_like(pre)
    hc = np.empty((len(pre), 2 * c_prev.shape[1]))
    lstm_forward(np.ascontiguousarray(pre), np.ascontiguousarray(c_prev), gates, hc)
    n = c_prev.shape[1]
    return gates, hc[:, :n], hc[:, n:]


def kernel_gate_backward(grad_h, grad_c, gates, c, c_prev):
    """The engine's element-wise LSTM backward (the numba kernel), with gate_backward's signature."""
    h = gates[:, 3 * c.shape[1]:] * np.tanh(c)
    grad = np.ascontiguousarray(np.concatenate([grad_h, grad_c], axis=1))
    hc = np.ascontiguousarray(np.concatenate([h, c], axis=1))
    dpre, dc_prev = np.empty_like(gates), np.empty_like(c)
    lstm_backward(grad, np.ascontiguousarray(gates), hc, np.ascontiguousarray(c_prev), dpre, dc_prev)
    return dpre, dc_prev


def lstm_inputs(n_in=2, n=3, lead_x=(), lead_h=(), lead_c=(), seed=0):
    """Random W, U, b, h_prev, c_prev, x as tensors that require grad."""
    rng = np.random.default_rng(seed)
    shapes = [(4 * n, n_in), (4 * n, n), (4 * n,), lead_h + (n,), lead_c + (n,), lead_x + (n_in,)]
    return [mg.tensor(0.5 * rng.standard_normal(s), requires_grad=True) for s in shapes]


def sequence(T, batch=None, n_in=2, n_out=2, seed=0):
    """Random inputs xs and targets ys of T steps (and a batch, if given)."""
    rng = np.random.default_rng(seed)
    lead = (T,) if batch is None else (T, batch)
    return rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))


def check_updates(got, want, what):
    """Fail unless ``got`` holds the updates of ``want`` (lists of {parameter name: gradient}), each close."""
    assert len(got) == len(want), f"{what}: {len(got)} updates, expected {len(want)}"
    for i, (mine, theirs) in enumerate(zip(got, want)):
        for name in theirs:
            check_close(mine[name], theirs[name], f"{what}, update {i}, dL/d{name}")
