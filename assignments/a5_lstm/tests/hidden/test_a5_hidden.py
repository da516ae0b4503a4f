"""Hidden tests of assignment 5: saturated gates, batches with a broadcast state, truncation, and h_0, c_0."""

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
@pytest.mark.points(3)
def test_gate_backward_on_saturated_gates_and_many_rows(student):
    rng = np.random.default_rng(10)
    for rows, n, scale in ((1, 1, 1.0), (7, 5, 20.0), (3, 4, 3.0)):
        pre, c_prev = scale * rng.standard_normal((rows, 4 * n)), 5 * rng.standard_normal((rows, n))
        gates, _, c = step_values(pre, c_prev)
        grad_h, grad_c = rng.standard_normal((rows, n)), rng.standard_normal((rows, n))
        got = student.gate_backward(grad_h, grad_c, gates, c, c_prev)
        want = kernel_gate_backward(grad_h, grad_c, gates, c, c_prev)
        check_close(got[0], want[0], f"dL/dpre ({rows} rows, n={n}, pre-activations of scale {scale:g})")
        check_close(got[1], want[1], f"dL/dc_prev ({rows} rows, n={n}, pre-activations of scale {scale:g})")


@pytest.mark.task5_2
@pytest.mark.points(3)
def test_fused_step_gradcheck_on_a_batch_with_a_broadcast_state(student, monkeypatch):
    monkeypatch.setattr(student, "gate_backward", kernel_gate_backward)
    inputs = lstm_inputs(n_in=3, n=2, lead_x=(3,), lead_h=(), lead_c=(3,), seed=11)
    assert mg.gradcheck(student.FusedLSTMStep.apply, inputs)


@pytest.mark.task5_2
@pytest.mark.points(2)
def test_cell_on_a_batch_under_tbptt(student, monkeypatch):
    monkeypatch.setattr(student, "gate_backward", kernel_gate_backward)
    xs, ys = sequence(7, batch=2, n_in=3, n_out=1, seed=12)
    mine = rnn.gradients(student.LSTMCell(3, 4, 1, seed=13), xs, ys, rnn.TBPTT(2, 4))
    ops = rnn.gradients(rnn.LSTM(3, 4, 1, seed=13, fused=False), xs, ys, rnn.TBPTT(2, 4))
    check_updates(mine, ops, "LSTMCell against rnn.LSTM(fused=False), batch of 2, TBPTT(2, 4)")


@pytest.mark.task5_2
@pytest.mark.points(2)
def test_gradients_reach_the_initial_state(student, monkeypatch):
    monkeypatch.setattr(student, "gate_backward", kernel_gate_backward)
    xs, ys = sequence(4, batch=2, seed=14)
    grads = []
    for cell in (student.LSTMCell(2, 3, 2, seed=15), rnn.LSTM(2, 3, 2, seed=15, fused=False)):
        rng = np.random.default_rng(16)
        h0 = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
        c0 = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
        rnn.unroll(cell, xs, ys, rnn.Full(), h0=(h0, c0)).loss.backward()
        grads.append((h0.grad, c0.grad))
    check_close(grads[0][0], grads[1][0], "dL/dh_0 against rnn.LSTM(fused=False)")
    check_close(grads[0][1], grads[1][1], "dL/dc_0 against rnn.LSTM(fused=False)")
