"""Public tests of assignment 5: your LSTM backward against the engine's kernel, finite differences
and the LSTM built from engine ops.

The tests of task5_2 put the engine's kernel in place of your ``gate_backward``,
so that task 2 is graded on its own even while task 1 is unfinished.
"""

import numpy as np
import pytest

import minigrad as mg
import rnn
from rnn.gated import lstm_backward, lstm_forward

RTOL, ATOL = 1e-7, 1e-10


def check_close(got, want, what, rtol=RTOL, atol=ATOL):
    """Fail, naming ``what`` and its worst element on the first line, unless ``got`` matches ``want``."""
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise AssertionError(f"{what}: got {type(got).__name__}, expected an array of shape {np.shape(want)}") from None
    want = np.asarray(want, dtype=float)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: shape {got.shape}, expected {want.shape}")
    if not np.allclose(got, want, rtol=rtol, atol=atol):
        gap = np.where(np.isnan(got), np.inf, np.abs(got - want))
        worst = np.unravel_index(np.argmax(gap), gap.shape)
        raise AssertionError(
            f"{what}: off by up to {gap[worst]:.3g} (at {tuple(int(i) for i in worst)}: "
            f"{got[worst]:.6g}, expected {want[worst]:.6g})"
        )


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


def random_step(rows, n, seed, scale=1.0):
    rng = np.random.default_rng(seed)
    pre, c_prev = scale * rng.standard_normal((rows, 4 * n)), rng.standard_normal((rows, n))
    gates, _, c = step_values(pre, c_prev)
    return pre, c_prev, gates, c, rng.standard_normal((rows, n)), rng.standard_normal((rows, n))


def lstm_inputs(n_in=2, n=3, lead_x=(), lead_h=(), lead_c=(), seed=0):
    """Random W, U, b, h_prev, c_prev, x as tensors that require grad."""
    rng = np.random.default_rng(seed)
    shapes = [(4 * n, n_in), (4 * n, n), (4 * n,), lead_h + (n,), lead_c + (n,), lead_x + (n_in,)]
    return [mg.tensor(0.5 * rng.standard_normal(s), requires_grad=True) for s in shapes]


def sequence(T, batch=None, n_in=2, n_out=2, seed=0):
    rng = np.random.default_rng(seed)
    lead = (T,) if batch is None else (T, batch)
    return rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))


def check_updates(got, want, what):
    assert len(got) == len(want), f"{what}: {len(got)} updates, expected {len(want)}"
    for i, (mine, theirs) in enumerate(zip(got, want)):
        for name in theirs:
            check_close(mine[name], theirs[name], f"{what}, update {i}, dL/d{name}")


@pytest.mark.task5_1
@pytest.mark.points(2)
def test_gate_backward_matches_the_engines_kernel(student):
    _, c_prev, gates, c, grad_h, grad_c = random_step(rows=4, n=3, seed=1)
    got = student.gate_backward(grad_h, grad_c, gates, c, c_prev)
    want = kernel_gate_backward(grad_h, grad_c, gates, c, c_prev)
    check_close(got[0], want[0], "dL/dpre = [dL/dpre_i | dL/dpre_f | dL/dpre_g | dL/dpre_o]")
    check_close(got[1], want[1], "dL/dc_prev")


@pytest.mark.task5_1
@pytest.mark.points(2)
def test_gate_backward_matches_finite_differences(student):
    pre, c_prev, gates, c, grad_h, grad_c = random_step(rows=2, n=2, seed=2)
    dpre, dc_prev = student.gate_backward(grad_h, grad_c, gates, c, c_prev)

    def objective(pre, c_prev):  # <dL/dh, h> + <dL/dc, c>: its gradient is what gate_backward returns
        _, h, c = step_values(pre, c_prev)
        return np.sum(grad_h * h) + np.sum(grad_c * c)

    eps = 1e-6
    for name, array, got in (("dL/dpre", pre, dpre), ("dL/dc_prev", c_prev, dc_prev)):
        numeric = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            plus, minus = array.copy(), array.copy()
            plus[index] += eps
            minus[index] -= eps
            args_plus = (plus, c_prev) if array is pre else (pre, plus)
            args_minus = (minus, c_prev) if array is pre else (pre, minus)
            numeric[index] = (objective(*args_plus) - objective(*args_minus)) / (2 * eps)
        check_close(got, numeric, f"{name} against central finite differences", rtol=1e-5, atol=1e-7)


@pytest.mark.task5_2
@pytest.mark.points(3)
def test_fused_step_passes_gradcheck(student, monkeypatch):
    monkeypatch.setattr(student, "gate_backward", kernel_gate_backward)
    assert mg.gradcheck(student.FusedLSTMStep.apply, lstm_inputs(seed=3))


@pytest.mark.task5_2
@pytest.mark.points(3)
def test_cell_gradients_match_the_op_level_lstm(student, monkeypatch):
    monkeypatch.setattr(student, "gate_backward", kernel_gate_backward)
    xs, ys = sequence(5, seed=4)
    mine = rnn.gradients(student.LSTMCell(2, 3, 2, seed=5), xs, ys, rnn.Full())
    ops = rnn.gradients(rnn.LSTM(2, 3, 2, seed=5, fused=False), xs, ys, rnn.Full())
    check_updates(mine, ops, "LSTMCell against rnn.LSTM(fused=False), 5 steps")
