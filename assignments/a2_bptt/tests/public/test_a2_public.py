"""Public tests of assignment 2: your BPTT against the gradients the engine computes on its tape.

The engine runs the same network (``rnn.ElmanRNN``, whose parameters are A, B
and C), keeps dL/dh_t of every state (``retain_grad``) and backpropagates.
Each task is graded on the engine's inputs: ``recurrent_grads`` gets the
engine's dL/dh_t, so task 2 is graded even while task 1 is unfinished.
"""

import numpy as np
import pytest

import rnn

DERIVATIVE = {  # g'(q) written through y_hat = g(q)
    "identity": lambda y: np.ones_like(y),
    "tanh": lambda y: 1.0 - y * y,
    "sigmoid": lambda y: y * (1.0 - y),
    "relu": lambda y: (y > 0).astype(float),
}

RTOL, ATOL = 1e-7, 1e-10


def engine_run(n_in=3, n=4, n_out=2, T=6, batch=None, f="tanh", g="identity", seed=0):
    """The engine's forward and backward of the Elman RNN on random data: weights, states and every gradient."""
    model = rnn.ElmanRNN(n_in, n, n_out, f=f, g=g, seed=seed)
    rng = np.random.default_rng(seed + 100)
    lead = (T,) if batch is None else (T, batch)
    xs, ys = rng.standard_normal(lead + (n_in,)), rng.standard_normal(lead + (n_out,))
    unrolled = rnn.unroll(model, xs, ys, rnn.Full())
    for tensor in unrolled.states[1:] + unrolled.outputs:
        tensor.retain_grad()
    unrolled.loss.backward()
    y_hat = np.stack([y.data for y in unrolled.outputs])
    return {
        "A": model.A.data, "B": model.B.data, "C": model.C.data, "xs": xs, "ys": ys, "f": f, "g": g,
        "h": np.stack([s.data for s in unrolled.states]),
        "dh": np.stack([s.grad for s in unrolled.states[1:]]),
        "dq": DERIVATIVE[g](y_hat) * np.stack([y.grad for y in unrolled.outputs]),
        "grads": {name: p.grad.copy() for name, p in model.named_parameters()},
    }


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
