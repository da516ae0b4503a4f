"""The layer-normalised Elman cell: finite differences, a numpy forward, the cell protocol, scale invariance."""

import numpy as np
import pytest

import minigrad as mg
import rnn
from minigrad.kernels import ACTIVATION_CODES
from rnn.layer_norm import LayerNormElman


def numpy_step(model, x, h):
    """One step written out in numpy, independently of the engine."""
    A, B, C = (p.data for p in model.weights())
    z = h @ A.T + x @ B.T
    centred = z - z.mean(axis=-1, keepdims=True)
    normalised = centred / np.sqrt((centred ** 2).mean(axis=-1, keepdims=True) + model.eps)
    h_next = np.tanh(model.gamma.data * normalised + model.beta.data)
    return h_next, h_next @ C.T


def test_step_equals_a_numpy_forward():
    rng = np.random.default_rng(0)
    model = LayerNormElman(2, 4, 3, seed=1)
    model.gamma.data[:] = rng.uniform(0.5, 1.5, 4)
    model.beta.data[:] = rng.standard_normal(4)
    x, h = rng.standard_normal((5, 2)), rng.standard_normal((5, 4))
    h_next, y_hat = model.step(x, mg.tensor(h))
    want_h, want_y = numpy_step(model, x, h)
    np.testing.assert_allclose(h_next.data, want_h, rtol=0, atol=1e-14)
    np.testing.assert_allclose(y_hat.data, want_y, rtol=0, atol=1e-14)


def test_passes_gradcheck_over_two_steps():
    rng = np.random.default_rng(1)
    model = LayerNormElman(2, 3, 2, seed=2)
    model.gamma.data[:] = rng.uniform(0.5, 1.5, 3)
    model.beta.data[:] = rng.standard_normal(3)
    h0 = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    x0 = mg.tensor(rng.standard_normal((2, 2)), requires_grad=True)

    def two_steps(h, x, *params):
        h1, _ = model.step(x, h)
        h2, y2 = model.step(x * 0.5, h1)
        return y2 + h2.sum()

    assert mg.gradcheck(two_steps, [h0, x0] + model.parameters())


def test_is_a_cell_every_strategy_drives():
    rng = np.random.default_rng(2)
    xs, ys = rng.standard_normal((8, 3, 2)), rng.standard_normal((8, 3, 2))
    model = LayerNormElman(2, 4, 2, seed=3)
    (full,) = rnn.gradients(model, xs, ys, rnn.Full())
    chunked = rnn.gradients(model, xs, ys, rnn.Chunked(8))
    assert [name for name, _ in model.named_parameters()] == ["A", "B", "C", "gamma", "beta"]
    for name in full:
        np.testing.assert_allclose(chunked[0][name], full[name], rtol=0, atol=1e-12)
    assert len(rnn.gradients(model, xs, ys, rnn.TBPTT(2, 4))) == 4


def test_starts_from_the_weights_elman_draws_from_the_same_seed():
    plain, normalised = rnn.ElmanRNN(3, 5, 2, seed=4), LayerNormElman(3, 5, 2, seed=4)
    for a, b in zip(plain.weights(), normalised.weights()):
        np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(normalised.gamma.data, np.ones(5))
    np.testing.assert_array_equal(normalised.beta.data, np.zeros(5))


def test_scaling_the_weights_into_the_units_leaves_the_state_unchanged():
    rng = np.random.default_rng(3)
    model = LayerNormElman(2, 6, 2, seed=5, eps=1e-12)
    x, h = rng.standard_normal(2), rng.standard_normal(6)
    before = model.step(x, mg.tensor(h))[0].data
    model.A.data *= 7.0
    model.B.data *= 7.0
    np.testing.assert_allclose(model.step(x, mg.tensor(h))[0].data, before, rtol=0, atol=1e-10)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_hidden": 1}, r"n_hidden >= 2"),
    ({"n_hidden": 0}, r"n_hidden must be an integer >= 1, got 0"),
    ({"f": "gelu"}, rf"f must be one of {', '.join(ACTIVATION_CODES)}, got 'gelu'"),
    ({"eps": 0.0}, r"eps must be positive"),
])
def test_bad_settings_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LayerNormElman(**{"n_in": 2, "n_hidden": 4, "n_out": 2, **kwargs})
