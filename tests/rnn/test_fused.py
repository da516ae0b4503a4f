"""The fused Elman node (``ElmanScan``, a segment or one step) and the driver's segments:
the gradients of the per-op graph, and what a drawing of the fused cell shows."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
import rnn
from minigrad.errors import ShapeError
from minigrad.kernels import ACTIVATION_CODES, TANH
from rnn.bptt import segments
from rnn.fused import ElmanScan, elman_scan, elman_step

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


def _scan(factors, code=TANH, xs=None):
    """The fused scan as a function of its tensor inputs (A, B, h0[, b]), on fixed inputs xs."""
    return lambda A, B, h0, b=None: elman_scan(A, B, h0, xs, b, factors=factors, code=code)


@pytest.mark.parametrize("f", sorted(ACTIVATION_CODES))
def test_elman_scan_passes_gradcheck(f):
    rng = np.random.default_rng(4)
    A = mg.tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)
    B = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = mg.tensor(rng.standard_normal(3), requires_grad=True)
    xs = rng.standard_normal((4, 2, 2))
    assert mg.gradcheck(_scan((1.0,) * 4, ACTIVATION_CODES[f], xs), [A, B, h0, b])


@pytest.mark.parametrize("xs_shape, h0_shape", [
    ((4, 2, 2), (2, 3)),  # a batch of two
    ((4, 2, 2), (3,)),  # one initial state shared by the batch
    ((4, 2), (2, 3)),  # one input sequence for a batch of states
    ((4, 1, 2), (2, 3)),  # a stretched batch axis of xs
    ((4, 2), (3,)),  # unbatched
])
def test_the_scan_passes_gradcheck_with_inputs_as_tensors_and_broadcasting(xs_shape, h0_shape):
    """Every input of the node gets its gradient (xs too, when it is a Tensor that asks for one),
    summed over the axes along which h0 and xs were broadcast against each other."""
    rng = np.random.default_rng(11)
    A = mg.tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)
    B = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal(h0_shape), requires_grad=True)
    b = mg.tensor(rng.standard_normal(3), requires_grad=True)
    xs = mg.tensor(rng.standard_normal(xs_shape), requires_grad=True)
    assert mg.gradcheck(lambda A, B, h0, b, xs: elman_scan(A, B, h0, xs, b, factors=(1.0,) * 4, code=TANH),
                        [A, B, h0, b, xs])
    states = elman_scan(A, B, h0, xs, factors=(1.0,) * 4, code=TANH)
    assert states.shape == (4,) + np.broadcast_shapes(xs_shape[1:-1], h0_shape[:-1]) + (3,)


@pytest.mark.parametrize("f", sorted(ACTIVATION_CODES))
@pytest.mark.parametrize("batch", [None, 3])
@pytest.mark.parametrize("indices", [False, True])
def test_one_step_is_the_scan_of_length_one(f, batch, indices):
    """``elman_step`` (``one_step=True``) is the scan of one step with factor 1, without the
    time axis: the same values and gradients."""
    rng = np.random.default_rng(12)
    lead = () if batch is None else (batch,)
    A0, B0, h00, b0 = (rng.standard_normal(s) for s in ((3, 3), (3, 4), lead + (3,), (3,)))
    x = rng.integers(0, 4, size=lead) if indices else rng.standard_normal(lead + (4,))
    weights = rng.standard_normal(lead + (3,))
    code = ACTIVATION_CODES[f]

    def run(one_step):
        A, B, h0, b = (mg.tensor(a, requires_grad=True) for a in (A0, B0, h00, b0))
        if one_step:
            h = elman_step(A, B, h0, x, b, code=code)
        else:
            h = elman_scan(A, B, h0, np.asarray(x)[None], b, factors=(1.0,), code=code)[0]
        (h * weights).sum().backward()
        return h.data, A.grad, B.grad, h0.grad, b.grad

    for got, want in zip(run(True), run(False)):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


def test_elman_scan_on_indices_is_the_scan_on_one_hot_vectors():
    rng = np.random.default_rng(9)
    A0, B0, h00, b0 = rng.standard_normal((4, 4)) * 0.5, rng.standard_normal((4, 5)), rng.standard_normal(4), rng.standard_normal(4)
    indices = np.array([[0, 4], [4, 4], [2, 1]])  # 3 steps, batch 2; index 4 read three times
    weights, factors = rng.standard_normal((3, 2, 4)), (1.0, 0.5, 0.0)

    def run(xs):
        tensors = [mg.tensor(a, requires_grad=True) for a in (A0, B0, h00, b0)]
        states = _scan(factors, xs=xs)(*tensors)
        (states * weights).sum().backward()
        return [states.data] + [t.grad for t in tensors]

    for got, want in zip(run(indices), run(np.eye(5)[indices])):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    assert mg.gradcheck(lambda A, B: _scan((1.0,) * 3, xs=indices)(A, B, mg.tensor(h00)),  # factors 1: true gradient
                        [mg.tensor(A0, requires_grad=True), mg.tensor(B0, requires_grad=True)])


def test_elman_scan_refuses_inputs_that_do_not_fit():
    A, B, h0 = np.eye(3), np.ones((3, 2)), np.zeros(3)
    with pytest.raises(ValueError, match="elman_scan: token index 2 is out of range for 2 inputs"):
        elman_scan(A, B, h0, np.array([0, 2]), factors=(1.0, 1.0), code=TANH)
    with pytest.raises(ShapeError, match=r"elman_scan: xs of shape \(2, 3\) does not hold vectors of the 2 inputs"):
        elman_scan(A, B, h0, np.ones((2, 3)), factors=(1.0, 1.0), code=TANH)
    with pytest.raises(ShapeError, match="elman_scan: 1 edge factors for a segment of 2 steps"):
        elman_scan(A, B, h0, np.ones((2, 2)), factors=(1.0,), code=TANH)
    with pytest.raises(ShapeError, match=r"elman_scan: A \(3, 3\), B \(3, 2\), h0 \(4,\) do not fit"):
        elman_scan(A, B, np.zeros(4), np.ones((2, 2)), factors=(1.0, 1.0), code=TANH)
    with pytest.raises(ShapeError, match=r"h0 \(3,\), b \(2,\) do not fit"):
        elman_scan(A, B, h0, np.ones((2, 2)), np.zeros(2), factors=(1.0, 1.0), code=TANH)
    with pytest.raises(ShapeError, match=r"batch axes of xs \(2, 4, 2\) and h0 \(2, 3\) cannot be broadcast"):
        elman_scan(A, B, np.zeros((2, 3)), np.ones((2, 4, 2)), factors=(1.0, 1.0), code=TANH)


@pytest.mark.parametrize("small", [True, False], ids=["numba loop", "BLAS loop"])
def test_an_unknown_activation_code_raises_instead_of_acting_as_the_identity(small, monkeypatch):
    if not small:
        monkeypatch.setattr(rnn.fused, "SMALL_STEP", 0)
    A, B, h0 = np.eye(3) * 0.5, np.ones((3, 2)), np.zeros(3)
    with pytest.raises(ValueError, match="unknown activation code"):
        elman_scan(A, B, h0, np.ones((2, 2)), factors=(1.0, 1.0), code=99)


def test_the_fused_step_records_the_node_the_driver_records():
    """One fused step is an elman_scan node of one step with factor 1, and so is the driver's
    stretch of steps: a drawing of either shows the node that training runs."""
    model = rnn.ElmanRNN(3, 4, 2, seed=3, bias=True)
    x, h0 = np.ones(3), model.initial_state()
    with mg.Tape():
        h, _ = model.step(x, h0)
        assert h.node.op == "elman_scan" and h.node.fn is ElmanScan
        assert list(h.node.meta.factors) == [1.0] and h.node.meta.one_step
        # A, B, h, b and x_t: the per-step drawing shows the input feeding the step
        assert [t.shape for t in h.node.inputs] == [(4, 4), (4, 3), (4,), (4,), (3,)]
        states, _ = model.scan(np.ones((5, 3)), h0, (1.0, 0.0, 0.5, 1.0, 1.0))
        assert states.node.fn is ElmanScan and list(states.node.meta.factors) == [1.0, 0.0, 0.5, 1.0, 1.0]
        assert len(states.node.inputs) == 4  # the segment's array of inputs is data
    ops = rnn.ElmanRNN(3, 4, 2, seed=3, bias=True, fused=False)
    with mg.Tape():
        h, _ = ops.step(x, h0)
        assert h.node.op == "tanh"


@pytest.mark.parametrize("fused", [True, False])
def test_the_gradient_reaches_input_tensors(fused):
    """xs given as a Tensor that requires grad get dL/dx = B^T delta, stepped or scanned."""
    rng = np.random.default_rng(13)
    model = rnn.ElmanRNN(2, 3, 2, seed=5, fused=fused, bias=True)
    xs = mg.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)

    def stepped(xs, h0):
        h, outputs = h0, []
        for t in range(4):
            h, y = model.step(xs[t], h)
            outputs.append(y)
        return mg.stack(outputs)

    assert mg.gradcheck(stepped, [xs, h0])
    if fused:
        assert mg.gradcheck(lambda xs, h0: model.scan(xs, h0, (1.0,) * 4)[1], [xs, h0])


@pytest.mark.parametrize("factors", [(0.0, 1.0, 0.0, 1.0), (2.0, 0.5, 1.0, 0.0), (1.0, 0.0, 0.0, 3.0)])
def test_elman_scan_factors_act_like_stop_and_scale_nodes(factors):
    """Cut and scaled edges change the gradient on purpose, so the reference is the
    per-op graph with stop_gradient / scale_grad nodes on those edges."""
    rng = np.random.default_rng(7)
    A0, B0, h00 = rng.standard_normal((3, 3)) * 0.5, rng.standard_normal((3, 2)), rng.standard_normal((2, 3))
    xs, weights = rng.standard_normal((4, 2, 2)), rng.standard_normal((4, 2, 3))

    def grads(build):
        A, B, h0 = (mg.tensor(a, requires_grad=True) for a in (A0, B0, h00))
        (build(A, B, h0) * weights).sum().backward()
        return [np.zeros_like(x.data) if x.grad is None else x.grad for x in (A, B, h0)]  # cut: no grad

    def per_op(A, B, h0):
        h, states = h0, []
        for t, factor in enumerate(factors):
            h = rnn.bptt.edit_edge(h, factor)
            h = mg.tanh(mg.matvec(A, h) + mg.matvec(B, xs[t]))
            states.append(h)
        return mg.stack(states)

    for got, want in zip(grads(_scan(factors, xs=xs)), grads(per_op)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_elman_scan_broadcasts_a_shared_initial_state():
    rng = np.random.default_rng(5)
    A = mg.tensor(rng.standard_normal((3, 3)) * 0.5, requires_grad=True)
    B = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    h0 = mg.tensor(rng.standard_normal(3), requires_grad=True)  # one state for the whole batch
    assert mg.gradcheck(_scan((1.0,) * 5, xs=rng.standard_normal((5, 4, 2))), [A, B, h0])


def test_elman_scan_forward_is_the_recurrence():
    rng = np.random.default_rng(6)
    A, B, h = rng.standard_normal((4, 4)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    b, xs = rng.standard_normal(4), rng.standard_normal((6, 3))
    states = _scan((1.0,) * 6, xs=xs)(A, B, h, b).data
    for t in range(6):
        h = np.tanh(A @ h + B @ xs[t] + b)
        np.testing.assert_allclose(states[t], h, rtol=1e-13)


@pytest.mark.parametrize("f", sorted(ACTIVATION_CODES))
def test_the_numba_and_blas_recurrences_agree(f, monkeypatch):
    """Small segments run in one numba loop, large ones one BLAS product per step: same numbers."""
    rng = np.random.default_rng(8)
    A0, B0, h00 = rng.standard_normal((6, 6)) * 0.4, rng.standard_normal((6, 2)), rng.standard_normal(6)
    xs, weights = rng.standard_normal((7, 3, 2)), rng.standard_normal((7, 3, 6))
    factors = (1.0, 0.0, 2.0, 1.0, 0.5, 1.0, 1.0)

    def run():
        A, B, h0 = (mg.tensor(a, requires_grad=True) for a in (A0, B0, h00))
        states = _scan(factors, ACTIVATION_CODES[f], xs)(A, B, h0)
        (states * weights).sum().backward()
        return states.data, A.grad, B.grad, h0.grad

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


@pytest.mark.parametrize("which", ["A", "B", "h0", "b", "xs"])
@pytest.mark.parametrize("one_step", [False, True], ids=["scan", "one step"])
def test_the_tangent_of_each_input_alone_is_the_per_op_graphs(which, one_step):
    """mg.jvp along one input at a time (the others held constant, their tangents None):
    the same tangent as the per-op graph with the same edge edits."""
    rng = np.random.default_rng(14)
    values = {"A": rng.standard_normal((3, 3)) * 0.5, "B": rng.standard_normal((3, 2)),
              "h0": rng.standard_normal((2, 3)), "b": rng.standard_normal(3),
              "xs": rng.standard_normal((2, 2) if one_step else (3, 2, 2))}
    factors = (1.0,) if one_step else (0.5, 0.0, 2.0)
    order = list(values)
    tangent = rng.standard_normal(values[which].shape)

    def fused(A, B, h0, b, xs):
        if one_step:
            return elman_step(A, B, h0, xs, b, code=TANH)
        return elman_scan(A, B, h0, xs, b, factors=factors, code=TANH)

    def per_op(A, B, h0, b, xs):
        if one_step:
            return mg.tanh(mg.matvec(A, h0) + mg.matvec(B, xs) + b)
        h, states = h0, []
        for t, factor in enumerate(factors):
            h = rnn.bptt.edit_edge(h, factor)
            h = mg.tanh(mg.matvec(A, h) + mg.matvec(B, xs[t]) + b)
            states.append(h)
        return mg.stack(states)

    got, want = (mg.jvp(fn, [mg.tensor(values[k]) for k in order],
                        [tangent if k == which else None for k in order])[1] for fn in (fused, per_op))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
