"""Public tests of assignment 5: your LSTM backward against the engine's kernel, finite differences
and the LSTM built from engine ops.

Your step and cell run where your code runs (``tests/probes.py``); the
references are computed here.  The tests of task 5.2 run with the engine's
kernel in place of your ``gate_backward``, so that task 5.2 is graded on its
own even while task 5.1 is unfinished.
"""

import numpy as np
import pytest
from checks import check_close
from helpers import check_step, check_updates, kernel_gate_backward, lstm_inputs, sequence, step_values

import rnn


def random_step(rows, n, seed, scale=1.0):
    """(pre, c_prev, gates, c, grad_h, grad_c): one random step, and random gradients at its outputs h and c."""
    rng = np.random.default_rng(seed)
    pre, c_prev = scale * rng.standard_normal((rows, 4 * n)), rng.standard_normal((rows, n))
    gates, _, c = step_values(pre, c_prev)
    return pre, c_prev, gates, c, rng.standard_normal((rows, n)), rng.standard_normal((rows, n))


def gate_result(got):
    assert isinstance(got, (tuple, list)) and len(got) == 2, (
        f"gate_backward must return (dL/dpre, dL/dc_prev), got {type(got).__name__}")
    return got


@pytest.mark.task5_1
@pytest.mark.points(2)
def test_gate_backward_matches_the_engines_kernel(student):
    _, c_prev, gates, c, grad_h, grad_c = random_step(rows=4, n=3, seed=1)
    got = gate_result(student.gate_backward(grad_h, grad_c, gates, c, c_prev))
    want = kernel_gate_backward(grad_h, grad_c, gates, c, c_prev)
    check_close(got[0], want[0], "dL/dpre = [dL/dpre_i | dL/dpre_f | dL/dpre_g | dL/dpre_o]")
    check_close(got[1], want[1], "dL/dc_prev")


@pytest.mark.task5_1
@pytest.mark.points(2)
def test_gate_backward_matches_finite_differences(student):
    pre, c_prev, gates, c, grad_h, grad_c = random_step(rows=2, n=2, seed=2)
    dpre, dc_prev = gate_result(student.gate_backward(grad_h, grad_c, gates, c, c_prev))

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
def test_fused_step_passes_gradcheck(student):
    check_step(student, lstm_inputs(seed=3), "one step", against="numeric")


@pytest.mark.task5_2
@pytest.mark.points(3)
def test_cell_gradients_match_the_op_level_lstm(student):
    xs, ys = sequence(5, seed=4)
    mine = student.probe("cell_gradients", (2, 3, 2), 5, xs, ys, ("Full",))
    ops = rnn.gradients(rnn.LSTM(2, 3, 2, seed=5, fused=False), xs, ys, rnn.Full())
    check_updates(mine, ops, "LSTMCell against rnn.LSTM(fused=False), 5 steps")
