"""Hidden tests of assignment 5: saturated gates, batches with a broadcast state, truncation, and h_0, c_0."""

import numpy as np
import pytest
from checks import check_close
from helpers import check_step, check_updates, kernel_gate_backward, lstm_inputs, sequence, step_values

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
        assert isinstance(got, (tuple, list)) and len(got) == 2, "gate_backward must return (dL/dpre, dL/dc_prev)"
        want = kernel_gate_backward(grad_h, grad_c, gates, c, c_prev)
        check_close(got[0], want[0], f"dL/dpre ({rows} rows, n={n}, pre-activations of scale {scale:g})")
        check_close(got[1], want[1], f"dL/dc_prev ({rows} rows, n={n}, pre-activations of scale {scale:g})")


@pytest.mark.task5_2
@pytest.mark.points(3)
def test_fused_step_gradcheck_on_a_batch_with_a_broadcast_state(student):
    inputs = lstm_inputs(n_in=3, n=2, lead_x=(3,), lead_h=(), lead_c=(3,), seed=11)
    check_step(student, inputs, "a batch of 3 with one h_prev row", against="numeric")
    check_step(student, inputs, "a batch of 3 with one h_prev row")


@pytest.mark.task5_2
@pytest.mark.points(2)
def test_cell_on_a_batch_under_tbptt(student):
    xs, ys = sequence(7, batch=2, n_in=3, n_out=1, seed=12)
    mine = student.probe("cell_gradients", (3, 4, 1), 13, xs, ys, ("TBPTT", 2, 4))
    ops = rnn.gradients(rnn.LSTM(3, 4, 1, seed=13, fused=False), xs, ys, rnn.TBPTT(2, 4))
    check_updates(mine, ops, "LSTMCell against rnn.LSTM(fused=False), batch of 2, TBPTT(2, 4)")


@pytest.mark.task5_2
@pytest.mark.points(2)
def test_gradients_reach_the_initial_state(student):
    xs, ys = sequence(4, batch=2, seed=14)
    rng = np.random.default_rng(16)
    h0, c0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    got = student.probe("initial_state_grads", (2, 3, 2), 15, xs, ys, h0, c0)
    start = [mg.tensor(a, requires_grad=True) for a in (h0, c0)]
    rnn.unroll(rnn.LSTM(2, 3, 2, seed=15, fused=False), xs, ys, rnn.Full(), h0=tuple(start)).loss.backward()
    check_close(got["h0"], start[0].grad, "dL/dh_0 against rnn.LSTM(fused=False)")
    check_close(got["c0"], start[1].grad, "dL/dc_0 against rnn.LSTM(fused=False)")
