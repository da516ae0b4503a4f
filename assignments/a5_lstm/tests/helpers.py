"""What the public and hidden tests of assignment 5 share: the engine's LSTM, random inputs and the
comparisons of steps and whole updates.

The tests import it as ``helpers`` (pytest.ini puts tests/ on the path).
Your step and cell run where your code runs (``tests/probes.py``); the
references are computed here, by the engine.
"""

import numpy as np
from checks import check_close

import minigrad as mg
from minigrad.kernels.gates import lstm_backward, lstm_forward
from rnn.gated import LSTMStep

INPUTS = ("W", "U", "b", "h_prev", "c_prev", "x")


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
    """Random W, U, b, h_prev, c_prev, x (arrays)."""
    rng = np.random.default_rng(seed)
    shapes = [(4 * n, n_in), (4 * n, n), (4 * n,), lead_h + (n,), lead_c + (n,), lead_x + (n_in,)]
    return [0.5 * rng.standard_normal(s) for s in shapes]


def engine_step(inputs, grad):
    """(the engine's [h | c], dL/d(each input) of L = sum(grad * [h | c])) for one fused LSTM step."""
    tensors = [mg.tensor(a, requires_grad=True) for a in inputs]
    with mg.Tape():
        out = LSTMStep.apply(*tensors)
        (out * grad).sum().backward()
    return out.data, [t.grad for t in tensors]


def numerical_step(inputs, grad, eps=1e-6):
    """dL/d(each input) of the same L by central finite differences of the engine's step."""
    def value(arrays):
        with mg.no_grad():
            return np.sum(grad * LSTMStep.apply(*(mg.tensor(a) for a in arrays)).data)

    grads = []
    for i, array in enumerate(inputs):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            plus, minus = [a.copy() for a in inputs], [a.copy() for a in inputs]
            plus[i][index] += eps
            minus[i][index] -= eps
            numeric[index] = (value(plus) - value(minus)) / (2 * eps)
        grads.append(numeric)
    return grads


def check_step(student, inputs, what, against="engine", seed=1):
    """Fail unless your FusedLSTMStep's forward and backward give the engine's values (or finite differences')."""
    rng = np.random.default_rng(seed)
    with mg.no_grad():
        forward = LSTMStep.apply(*(mg.tensor(a) for a in inputs)).data
    grad = rng.standard_normal(forward.shape)
    got = student.probe("step", inputs, grad)
    check_close(got["output"], forward, f"{what}: FusedLSTMStep's [h | c] (given code: did it change?)")
    grads = got["grads"]
    if against == "numeric":
        want, rtol, atol, source = numerical_step(inputs, grad), 1e-5, 1e-7, "central finite differences"
    else:
        want, rtol, atol, source = engine_step(inputs, grad)[1], 1e-7, 1e-10, "the engine's LSTMStep"
    for name, g, w in zip(INPUTS, grads, want):
        assert g is not None, f"{what}: your backward gave no gradient for {name}"
        check_close(g, w, f"{what}: dL/d{name} against {source}", rtol=rtol, atol=atol)


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
            assert name in mine, f"{what}, update {i}: no gradient for {name}"
            check_close(mine[name], theirs[name], f"{what}, update {i}, dL/d{name}")
