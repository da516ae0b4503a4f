"""Hidden tests of assignment 2: other activations and sizes, and the shortest sequence."""

import pytest
from checks import check_close
from helpers import engine_run

CONFIGS = [  # (f, g, n_in, n, n_out, T, batch)
    ("sigmoid", "tanh", 2, 7, 3, 9, 2),
    ("relu", "identity", 4, 5, 1, 8, None),
    ("identity", "sigmoid", 3, 6, 2, 7, 4),
]


def runs():
    """(a label, the engine's run) for each of CONFIGS, with seeds 10, 11, ..."""
    for seed, (f, g, n_in, n, n_out, T, batch) in enumerate(CONFIGS, start=10):
        yield f"f={f}, g={g}, n={n}, T={T}, batch={batch}", engine_run(n_in, n, n_out, T, batch, f, g, seed)


@pytest.mark.task2_1
@pytest.mark.points(3)
def test_hidden_grads_for_other_activations_and_sizes(student):
    for label, run in runs():
        got = student.hidden_grads(run["A"], run["C"], run["h"], run["dq"], run["f"])
        check_close(got, run["dh"], f"dL/dh_t ({label})")


@pytest.mark.task2_1
@pytest.mark.points(1)
def test_hidden_grads_of_a_single_step(student):
    run = engine_run(3, 4, 2, 1, 2, "tanh", "identity", seed=20)
    check_close(student.hidden_grads(run["A"], run["C"], run["h"], run["dq"], run["f"]), run["dh"], "dL/dh_1 (T = 1)")


@pytest.mark.task2_2
@pytest.mark.points(3)
def test_recurrent_grads_for_other_activations_and_sizes(student):
    for label, run in runs():
        dA, dB = student.recurrent_grads(run["h"], run["xs"], run["dh"], run["f"])
        check_close(dA, run["grads"]["A"], f"dL/dA ({label})")
        check_close(dB, run["grads"]["B"], f"dL/dB ({label})")


@pytest.mark.task2_2
@pytest.mark.points(1)
def test_recurrent_grads_of_a_single_step(student):
    run = engine_run(3, 4, 2, 1, None, "sigmoid", "identity", seed=21)
    dA, dB = student.recurrent_grads(run["h"], run["xs"], run["dh"], run["f"])
    check_close(dA, run["grads"]["A"], "dL/dA (T = 1: h_0 = 0, so it is zero)")
    check_close(dB, run["grads"]["B"], "dL/dB (T = 1)")


@pytest.mark.task2_3
@pytest.mark.points(2)
def test_readout_grad_for_other_activations_and_sizes(student):
    for label, run in runs():
        check_close(student.readout_grad(run["h"], run["dq"]), run["grads"]["C"], f"dL/dC ({label})")
