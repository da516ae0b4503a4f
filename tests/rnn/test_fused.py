"""The fused segment node (``ElmanScan``) and the driver's segments: same gradients as the stepped graph."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import rnn
from minigrad.kernels import ACTIVATION_CODES
from rnn.bptt import segments
from rnn.fused import ElmanScan

STRATEGIES = [
    rnn.Full(), rnn.Chunked(3), rnn.TBPTT(2, 5), rnn.TBPTT(4, 4), rnn.TBPTT(3, 7),
    rnn.Randomized(0.5, seed=1), rnn.ARTBP(c=0.3, seed=2), rnn.Checkpointed(4),
]


def pair(seed, **kwargs):
    """A fused (scanning) and a per-op (stepping) Elman RNN with the same weights."""
    fused = rnn.ElmanRNN(3, 5, 2, seed=seed, fused=True, **kwargs)
    ops = rnn.ElmanRNN(3, 5, 2, seed=seed, fused=False, **kwargs)
    if fused.bias:
        fused.b_h.data[:] = np.linspace(-0.3, 0.3, 5)
        fused.b_y.data[:] = 0.1
    ops.load_state_dict(fused.state_dict())
    return fused, ops


def fresh_copy(strategy):
    """The same strategy with a fresh random stream, so both runs draw the same plan."""
    if isinstance(strategy, rnn.Randomized):
        return rnn.Randomized(strategy.p, seed=strategy.seed)
    if isinstance(strategy, rnn.ARTBP):
        return rnn.ARTBP(c=strategy.c, seed=strategy.seed)
    return strategy


def assert_same_updates(a, b):
    assert len(a) == len(b)
    for ga, gb in zip(a, b):
        assert ga.keys() == gb.keys()
        for name in ga:
            np.testing.assert_allclose(ga[name], gb[name], rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("strategy", STRATEGIES, ids=repr)
@pytest.mark.parametrize("batch", [None, 4])
@pytest.mark.parametrize("bias", [False, True])
def test_scanning_and_stepping_give_the_same_gradients(strategy, batch, bias):
    fused, ops = pair(seed=21, f="tanh", g="sigmoid", bias=bias)
    assert fused.scan is not None and ops.scan is None
    rng = np.random.default_rng(0)
    shape = (13, 3) if batch is None else (13, batch, 3)
    xs = rng.standard_normal(shape)
    ys = rng.standard_normal(shape[:-1] + (2,))
    scanned = rnn.gradients(fused, xs, ys, fresh_copy(strategy))
    stepped = rnn.gradients(ops, xs, ys, fresh_copy(strategy))
    assert_same_updates(scanned, stepped)


@pytest.mark.parametrize("strategy", [rnn.Chunked(4), rnn.TBPTT(2, 6)], ids=repr)
def test_scanning_with_hidden_reset_and_cross_entropy(strategy):
    fused, ops = pair(seed=22, f="relu")
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((11, 2, 3))
    ys = rng.integers(-1, 2, size=(11, 2))  # -1: a step without a target
    for hidden in ("carry", "reset"):
        assert_same_updates(rnn.gradients(fused, xs, ys, strategy, loss="ce", hidden=hidden),
                            rnn.gradients(ops, xs, ys, strategy, loss="ce", hidden=hidden))


def test_a_callable_loss_steps_the_fused_cell_and_agrees():
    fused, ops = pair(seed=23)
    rng = np.random.default_rng(2)
    xs, ys = rng.standard_normal((9, 3)), rng.standard_normal((9, 2))

    def half_sse(y_hat, y):
        return ((y_hat - y) * (y_hat - y)).sum() * 0.5

    assert_same_updates(rnn.gradients(fused, xs, ys, rnn.TBPTT(2, 4), loss=half_sse),
                        rnn.gradients(ops, xs, ys, rnn.TBPTT(2, 4), loss="mse"))


def test_full_scan_records_a_handful_of_nodes_not_several_per_step():
    fused, ops = pair(seed=24)
    rng = np.random.default_rng(3)
    xs, ys = rng.standard_normal((50, 3)), rng.standard_normal((50, 2))
    assert rnn.run(fused, xs, ys, rnn.Full()).peak_nodes < 10
    assert rnn.run(ops, xs, ys, rnn.Full()).peak_nodes > 5 * 50


@pytest.mark.parametrize("f", sorted(ACTIVATION_CODES))
def test_elman_scan_passes_gradcheck(f):
    rng = np.random.default_rng(4)
    A = mg.tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)
    p = mg.tensor(rng.standard_normal((4, 2, 3)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    code = ACTIVATION_CODES[f]
    assert mg.gradcheck(lambda A, p, h0: ElmanScan.apply(A, p, h0, factors=(1.0,) * 4, code=code), [A, p, h0])


@pytest.mark.parametrize("factors", [(0.0, 1.0, 0.0, 1.0), (2.0, 0.5, 1.0, 0.0), (1.0, 0.0, 0.0, 3.0)])
def test_elman_scan_factors_act_like_stop_and_scale_nodes(factors):
    """Cut and scaled edges change the gradient on purpose, so the reference is the
    per-op graph with stop_gradient / scale_grad nodes on those edges."""
    rng = np.random.default_rng(7)
    A0, p0, h00 = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((4, 2, 3)), rng.standard_normal((2, 3))
    weights = rng.standard_normal((4, 2, 3))

    def grads(build):
        A, p, h0 = (mg.tensor(a, requires_grad=True) for a in (A0, p0, h00))
        (build(A, p, h0) * weights).sum().backward()
        return [np.zeros_like(x.data) if x.grad is None else x.grad for x in (A, p, h0)]  # cut: no grad

    def per_op(A, p, h0):
        h, states = h0, []
        for t, factor in enumerate(factors):
            h = rnn.bptt.edit_edge(h, factor)
            h = mg.tanh(mg.matvec(A, h) + p[t])
            states.append(h)
        return mg.stack(states)

    fused = grads(lambda A, p, h0: ElmanScan.apply(A, p, h0, factors=factors, code=ACTIVATION_CODES["tanh"]))
    for got, want in zip(fused, grads(per_op)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_elman_scan_broadcasts_a_shared_initial_state():
    rng = np.random.default_rng(5)
    A = mg.tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)
    p = mg.tensor(rng.standard_normal((5, 4, 3)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal(3), requires_grad=True)  # one state for the whole batch
    assert mg.gradcheck(lambda A, p, h0: ElmanScan.apply(A, p, h0, factors=(1.0,) * 5, code=1), [A, p, h0])


def test_elman_scan_forward_is_the_recurrence():
    rng = np.random.default_rng(6)
    A, p, h = rng.standard_normal((4, 4)), rng.standard_normal((6, 4)), rng.standard_normal(4)
    states = ElmanScan.apply(A, p, h, factors=(1.0,) * 6, code=ACTIVATION_CODES["tanh"]).data
    for t in range(6):
        h = np.tanh(A @ h + p[t])
        np.testing.assert_allclose(states[t], h, rtol=1e-13)


@pytest.mark.parametrize("f", sorted(ACTIVATION_CODES))
def test_the_numba_and_blas_recurrences_agree(f, monkeypatch):
    """Small segments run in one numba loop, large ones one BLAS product per step: same numbers."""
    rng = np.random.default_rng(8)
    A0, p0, h00 = rng.standard_normal((6, 6)) * 0.4, rng.standard_normal((7, 3, 6)), rng.standard_normal(6)
    weights, factors = rng.standard_normal((7, 3, 6)), (1.0, 0.0, 2.0, 1.0, 0.5, 1.0, 1.0)

    def run():
        A, p, h0 = (mg.tensor(a, requires_grad=True) for a in (A0, p0, h00))
        states = ElmanScan.apply(A, p, h0, factors=factors, code=ACTIVATION_CODES[f])
        (states * weights).sum().backward()
        return states.data, A.grad, p.grad, h0.grad

    assert rnn.fused._is_small(np.empty((7, 3, 6)), A0)
    small = run()
    monkeypatch.setattr(rnn.fused, "SMALL_STEP", 0)
    assert not rnn.fused._is_small(np.empty((7, 3, 6)), A0)
    for got, want in zip(run(), small):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-13)


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 40), k1=st.integers(1, 12), extra=st.integers(0, 12))
def test_segments_cover_the_steps_and_stop_at_every_update_and_reach(T, k1, extra):
    plan = rnn.TBPTT(k1, k1 + extra).plan(T)
    parts = segments(plan)
    assert parts[0][0] == 1 and parts[-1][1] == T
    assert all(b[0] == a[1] + 1 and a[0] <= a[1] for a, b in itertools.pairwise(parts))
    ends = {last for _, last in parts} | {0}
    assert all(u.t in ends and u.reach in ends for u in plan.updates)
