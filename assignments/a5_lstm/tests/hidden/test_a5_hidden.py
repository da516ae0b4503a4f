"""Hidden tests of assignment 5: saturated gates, batches with a broadcast state, truncation, and h_0, c_0."""

import numpy as np
import pytest
from checks import check_close
from helpers import check_updates, kernel_gate_backward, lstm_inputs, sequence, step_values

import minigrad as mg
import rnn


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
