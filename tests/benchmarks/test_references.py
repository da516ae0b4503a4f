"""The hand-written references compute the true gradient of the benchmark's loss and update by SGD."""

import numpy as np
import pytest

import rnn
from benchmarks.configs import Config, character_stream, make_problem
from benchmarks.numba_reference import step_numba
from benchmarks.references import softmax_cross_entropy, step_hoisted, step_loop

STEPS = {"loop": step_loop, "hoisted": step_hoisted, "numba": step_numba}
TINY = Config("tiny", vocab=4, batch=2, hidden=3, T=5)


def tiny_problem(config=TINY):
    return make_problem(config, dtype=np.float64)


def copy(weights):
    return {name: w.copy() for name, w in weights.items()}


@pytest.mark.parametrize("name", STEPS)
@pytest.mark.parametrize("config", [TINY, Config("one", vocab=5, batch=1, hidden=4, T=7)], ids=["batch2", "batch1"])
def test_gradients_equal_rnn_gradients_and_the_loss_equals_rnns(name, config):
    problem = tiny_problem(config)
    model = rnn.ElmanRNN(config.vocab, config.hidden, config.vocab, f="tanh", g="identity", seed=0,
                         dtype=np.float64)
    want = rnn.gradients(model, problem.xs, problem.ys, rnn.Full(), loss="ce")[0]
    want_loss = rnn.run(model, problem.xs, problem.ys, rnn.Full(), loss="ce").losses[0]
    loss, got = STEPS[name](copy(problem.weights), problem.xs, problem.ys, 0.0)
    assert loss == pytest.approx(want_loss, rel=1e-12)
    for parameter in ("A", "B", "C"):
        np.testing.assert_allclose(got[parameter], want[parameter], rtol=1e-10, atol=1e-12, err_msg=parameter)


def test_loop_gradient_equals_central_finite_differences():
    problem = tiny_problem()
    _, grads = step_loop(copy(problem.weights), problem.xs, problem.ys, 0.0)
    eps = 1e-6
    for parameter, w in problem.weights.items():
        numeric = np.zeros_like(w)
        for index in np.ndindex(w.shape):
            plus, minus = copy(problem.weights), copy(problem.weights)
            plus[parameter][index] += eps
            minus[parameter][index] -= eps
            numeric[index] = (step_loop(plus, problem.xs, problem.ys, 0.0)[0]
                              - step_loop(minus, problem.xs, problem.ys, 0.0)[0]) / (2 * eps)
        np.testing.assert_allclose(grads[parameter], numeric, rtol=1e-6, atol=1e-8, err_msg=parameter)


@pytest.mark.parametrize("name", STEPS)
def test_a_step_moves_every_weight_by_minus_lr_times_its_gradient(name):
    problem = tiny_problem()
    weights = copy(problem.weights)
    _, grads = STEPS[name](weights, problem.xs, problem.ys, 0.5)
    for parameter, before in problem.weights.items():
        np.testing.assert_allclose(weights[parameter], before - 0.5 * grads[parameter], rtol=1e-12)


@pytest.mark.parametrize("name", STEPS)
def test_float32_in_float32_out(name):
    problem = make_problem(TINY, dtype=np.float32)
    weights = copy(problem.weights)
    _, grads = STEPS[name](weights, problem.xs, problem.ys, 0.1)
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
    assert {w.dtype for w in weights.values()} == {np.dtype(np.float32)}


def test_softmax_cross_entropy_by_hand_and_for_huge_logits():
    logits = np.array([[0.0, np.log(3.0)], [1e4, 0.0]])
    loss, dlogits = softmax_cross_entropy(logits, np.array([0, 0]))
    # row 1: softmax = (1/4, 3/4), -log(1/4); row 2: softmax ~ (1, 0), loss ~ 0
    assert loss == pytest.approx(np.log(4.0))
    np.testing.assert_allclose(dlogits, [[0.25 - 1, 0.75], [0.0, 0.0]], atol=1e-12)


def test_problem_weights_are_elman_rnns_and_targets_are_the_next_character():
    problem = make_problem(TINY)
    model = rnn.ElmanRNN(TINY.vocab, TINY.hidden, TINY.vocab, seed=0, dtype=np.float32)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(problem.weights[name], p.data)
    xs, ys = character_stream(TINY.T, TINY.batch, TINY.vocab)
    assert xs.shape == (TINY.T, TINY.batch, TINY.vocab) and ys.shape == (TINY.T, TINY.batch)
    np.testing.assert_array_equal(xs.sum(axis=-1), 1)
    np.testing.assert_array_equal(xs[1:].argmax(axis=-1), ys[:-1])


def test_model_flops_follow_the_issues_formula():
    assert Config("C1", vocab=65, batch=1, hidden=100, T=25).flops == 6 * 1 * 25 * 100 * (100 + 65)
