"""Public tests of assignment 2: your BPTT against the gradients the engine computes on its tape.

The engine runs the same network (``rnn.ElmanRNN``, whose parameters are A, B
and C), keeps dL/dh_t of every state (``retain_grad``) and backpropagates.
Each task is graded on the engine's inputs: ``recurrent_grads`` gets the
engine's dL/dh_t, so task 2 is graded even while task 1 is unfinished.
"""

import pytest
from checks import check_close
from helpers import engine_run


@pytest.mark.task2_1
@pytest.mark.points(2)
def test_hidden_grads_match_the_engine(student):
    run = engine_run()
    got = student.hidden_grads(run["A"], run["C"], run["h"], run["dq"], run["f"])
    check_close(got, run["dh"], "dL/dh_t (one sequence, f = tanh)")


@pytest.mark.task2_1
@pytest.mark.points(2)
def test_hidden_grads_with_a_batch(student):
    run = engine_run(batch=3, seed=1)
    got = student.hidden_grads(run["A"], run["C"], run["h"], run["dq"], run["f"])
    check_close(got, run["dh"], "dL/dh_t (a batch of 3)")


@pytest.mark.task2_2
@pytest.mark.points(2)
def test_recurrent_grads_match_the_engine(student):
    run = engine_run(seed=2)
    dA, dB = student.recurrent_grads(run["h"], run["xs"], run["dh"], run["f"])
    check_close(dA, run["grads"]["A"], "dL/dA (one sequence)")
    check_close(dB, run["grads"]["B"], "dL/dB (one sequence)")


@pytest.mark.task2_2
@pytest.mark.points(2)
def test_recurrent_grads_sum_over_the_batch(student):
    run = engine_run(batch=3, seed=3)
    dA, dB = student.recurrent_grads(run["h"], run["xs"], run["dh"], run["f"])
    check_close(dA, run["grads"]["A"], "dL/dA (a batch of 3)")
    check_close(dB, run["grads"]["B"], "dL/dB (a batch of 3)")


@pytest.mark.task2_3
@pytest.mark.points(2)
def test_readout_grad_matches_the_engine(student):
    for batch in (None, 3):
        run = engine_run(batch=batch, seed=4)
        check_close(student.readout_grad(run["h"], run["dq"]), run["grads"]["C"], f"dL/dC (batch={batch})")
