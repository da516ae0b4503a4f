"""The fused Elman cell's fast paths (issue 19) give the numbers of the slow ones.

* one-hot inputs given as an array run as the token indices they spell
  (``rnn.fused.one_hot_as_indices``): same states, same gradients as the dense
  products (and as the per-op cell), and only where the test is exact;
* float32 tanh in the by-steps path is the kernels' rational tanh, written
  out of place;
* ``ElmanRNN.initial_state`` still checks its batch.
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import rnn
import rnn.fused as fused
from minigrad.kernels import TANH, tanh_rational
from rnn.fused import ONE_HOT_LOOKUP_WORK, elman_scan, one_hot_as_indices


#: the shortcut's threshold in these tests (the production one is about a million multiply-adds)
TEST_WORK = 4096


def one_hot_problem(T=6, batch=40, n_in=7, hidden=9, seed=0, dtype=np.float64):
    """Token indices, their one-hot vectors and targets: B x is TEST_WORK multiply-adds or more."""
    assert T * batch * n_in * hidden >= TEST_WORK
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, n_in, size=(T, batch))
    xs = np.eye(n_in, dtype=dtype)[tokens]
    ys = rng.integers(0, n_in, size=(T, batch))
    return tokens, xs, ys


@pytest.fixture
def small_threshold(monkeypatch):
    """The one-hot shortcut for the small sizes of these tests too."""
    monkeypatch.setattr(fused, "ONE_HOT_LOOKUP_WORK", TEST_WORK)


def test_one_hot_arrays_become_indices_only_when_exactly_one_hot(small_threshold):
    tokens, xs, _ = one_hot_problem()
    B = np.zeros((9, 7))
    np.testing.assert_array_equal(one_hot_as_indices(xs, B), tokens)
    assert one_hot_as_indices(xs, B).dtype == np.int64
    not_one_hot = xs.copy()
    not_one_hot[-1, -1, 0] = 0.5  # one entry of the last vector: the whole input stays dense
    assert one_hot_as_indices(not_one_hot, B) is not_one_hot
    features = np.random.default_rng(0).standard_normal(xs.shape)
    assert one_hot_as_indices(features, B) is features
    wrong_width = np.eye(6)[tokens % 6]
    assert one_hot_as_indices(wrong_width, B) is wrong_width  # left to the node's shape check
    wider_dtype = xs.astype(np.float64)
    assert one_hot_as_indices(wider_dtype, B.astype(np.float32)) is wider_dtype  # a float64 product: dense
    assert one_hot_as_indices(xs.astype(np.float32), B.astype(np.float32)).dtype == np.int64


def test_small_one_hot_inputs_stay_dense():
    tokens, xs, _ = one_hot_problem()
    assert xs.size * 9 < ONE_HOT_LOOKUP_WORK
    assert one_hot_as_indices(xs, np.zeros((9, 7))) is xs


def scan_node_inputs(model, xs, ys):
    """The xs the segment node kept, by running the model's scan once."""
    with mg.Tape():
        h0 = model.initial_state(xs.shape[1])
        states, _ = model.run_segment(xs, h0, (1.0,) * len(xs))
        return states.node.saved[-1], states.data.copy()


@pytest.mark.parametrize("bias", [False, True])
def test_the_shortcut_is_taken_and_keeps_states_and_gradients(monkeypatch, bias):
    tokens, xs, ys = one_hot_problem(seed=1)
    model = rnn.ElmanRNN(7, 9, 7, seed=3, bias=bias)
    if bias:
        model.b_h.data[:] = np.linspace(-0.2, 0.2, 9)
    monkeypatch.setattr(fused, "ONE_HOT_LOOKUP_WORK", TEST_WORK)
    kept, fast_states = scan_node_inputs(model, xs, ys)
    np.testing.assert_array_equal(kept, tokens)  # the node ran on indices
    fast = rnn.gradients(model, xs, ys, rnn.TBPTT(2, 4), loss="ce")
    monkeypatch.setattr(fused, "ONE_HOT_LOOKUP_WORK", float("inf"))
    kept, dense_states = scan_node_inputs(model, xs, ys)
    assert kept.shape == xs.shape  # the node multiplied the one-hot vectors
    dense = rnn.gradients(model, xs, ys, rnn.TBPTT(2, 4), loss="ce")
    np.testing.assert_allclose(fast_states, dense_states, rtol=1e-14, atol=1e-15)
    op_level = rnn.ElmanRNN(7, 9, 7, seed=3, bias=bias, fused=False)
    op_level.load_state_dict(model.state_dict())
    slow = rnn.gradients(op_level, xs, ys, rnn.TBPTT(2, 4), loss="ce")
    assert len(fast) == len(dense) == len(slow)
    for got, want, stepped in zip(fast, dense, slow):
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-12, atol=1e-14, err_msg=name)
            np.testing.assert_allclose(got[name], stepped[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_the_shortcut_passes_finite_differences(small_threshold):
    tokens, xs, _ = one_hot_problem(T=5, batch=48, seed=2)
    rng = np.random.default_rng(4)
    A = mg.tensor(0.3 * rng.standard_normal((9, 9)), requires_grad=True)
    B = mg.tensor(0.5 * rng.standard_normal((9, 7)), requires_grad=True)
    b = mg.tensor(0.1 * rng.standard_normal(9), requires_grad=True)
    h0 = mg.tensor(0.1 * rng.standard_normal((48, 9)), requires_grad=True)
    weights = mg.tensor(rng.standard_normal((5, 48, 9)))
    factors = (1.0,) * 5  # (other factors edit the gradient on purpose: no finite difference sees them)

    def loss(A, B, h0, b):
        states = elman_scan(A, B, h0, xs, b, factors=factors, code=TANH)
        assert states.node.saved[-1].dtype == np.int64  # the lookup ran, not the product
        return (states * weights).sum()

    assert mg.gradcheck(loss, [A, B, h0, b])


def test_tensor_inputs_are_never_turned_into_indices(small_threshold):
    tokens, xs, ys = one_hot_problem(seed=5)
    model = rnn.ElmanRNN(7, 9, 7, seed=6)
    x = mg.tensor(xs, requires_grad=True)
    with mg.Tape():
        states, outputs = model.run_segment(x, model.initial_state(xs.shape[1]), (1.0,) * len(xs))
        mg.cross_entropy(outputs, ys, reduction="sum").backward()
    assert x.grad is not None and x.grad.shape == xs.shape  # the gradient reaches the one-hot vectors


@pytest.mark.parametrize("hidden", [300])  # rows x H x H above SMALL_STEP: one BLAS product per step
def test_float32_by_steps_uses_the_rational_tanh_out_of_place(hidden):
    rng = np.random.default_rng(7)
    A = (rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)).astype(np.float32)
    p = rng.standard_normal((4, 2, hidden)).astype(np.float32)
    path = np.zeros((5, 2, hidden), dtype=np.float32)
    assert not fused._is_small(path, A)
    fused._forward_by_steps(A, p, TANH, path)
    for t in range(4):
        z = path[t] @ A.T + p[t]
        want = np.empty_like(z)
        tanh_rational(z.reshape(-1), want.reshape(-1))
        np.testing.assert_allclose(path[t + 1], want, rtol=2e-6, atol=1e-6)
    small = np.zeros_like(path)
    fused.elman_scan_forward(np.ascontiguousarray(A.T), p, TANH, small)  # the small path's kernel
    np.testing.assert_allclose(path, small, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("code", sorted(rnn.cells.ACTIVATION_CODES.values()))
def test_activate_writes_out_and_leaves_z(dtype, code):
    from minigrad.kernels import NUMPY_FORMULAS, ACTIVATION_CODES

    name = next(n for n, c in ACTIVATION_CODES.items() if c == code)
    z = np.linspace(-4, 4, 33).astype(dtype).reshape(3, 11)
    before = z.copy()
    out = np.empty_like(z)
    fused._activate(z, code, out)
    np.testing.assert_array_equal(z, before)
    f, _ = NUMPY_FORMULAS[name]
    np.testing.assert_allclose(out, f(z.astype(np.float64)), rtol=2e-6 if dtype == np.float32 else 1e-13, atol=1e-7)


def test_initial_state_checks_its_batch():
    model = rnn.ElmanRNN(3, 4, 2)
    assert model.initial_state(5).shape == (5, 4)
    assert model.initial_state(np.int64(2)).shape == (2, 4)
    assert model.initial_state(None).shape == (4,)
    for bad in (0, -1, True, 2.0):
        with pytest.raises((ValueError, TypeError)):
            model.initial_state(bad)
