"""Hidden tests of assignment 2: other activations and sizes, and the shortest sequence."""

import numpy as np
import pytest

import rnn

DERIVATIVE = {  # g'(q) written through y_hat = g(q)
    "identity": lambda y: np.ones_like(y),
    "tanh": lambda y: 1.0 - y * y,
    "sigmoid": lambda y: y * (1.0 - y),
    "relu": lambda y: (y > 0).astype(float),
}

CONFIGS = [  # (f, g, n_in, n, n_out, T, batch)
    ("sigmoid", "tanh", 2, 7, 3, 9, 2),
    ("relu", "identity", 4, 5, 1, 8, None),
    ("identity", "sigmoid", 3, 6, 2, 7, 4),
]

RTOL, ATOL = 1e-7, 1e-10


def engine_run(n_in, n, n_out, T, batch, f, g, seed):
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


def runs():
    for seed, (f, g, n_in, n, n_out, T, batch) in enumerate(CONFIGS, start=10):
        yield f"f={f}, g={g}, n={n}, T={T}, batch={batch}", engine_run(n_in, n, n_out, T, batch, f, g, seed)


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
