"""Forward mode (``mg.jvp``) for every op, driven by the op table (tests/minigrad/op_table.py).

For every row and case of the table (so a new op cannot skip them):
  * the output tangent J v equals the central difference
    (f(x + eps v) - f(x - eps v)) / (2 eps) of the forward along a random v,
    times the row's grad_factor (scale_grad's tangent is c times, stop_gradient's 0);
  * it is the transpose of backward: <u, J v> = <J^T u, v> for random u and v,
    to rounding, for all inputs together and for each input alone (the others
    held constant: the rules' None paths);
  * the primal output is the ordinary forward's, with or without a tape;
  * float32 inputs give float32 tangents close to the float64 ones;
  * non-contiguous tangents give the same tangent as contiguous ones.
Every op class of minigrad.ops defines its own tangent rule.  Hypothesis draws
broadcast shapes, matmul batch shapes and reduction axes.  Then: the errors of
bad jvp arguments, ops without a rule, no_grad, memory, and a small RNN.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.errors import AnomalyError, DtypeError, ShapeError, TangentError
from minigrad.ops import base

from .op_table import ALL_CASES, BROADCASTING_BINARY, REDUCTIONS, ROWS_BY_NAME, case_id, make_inputs, no_ties, real

HYPOTHESIS = settings(max_examples=25, deadline=None, database=None)
EPS = 1e-6


def _params(cases):
    return [pytest.param(row, case, id=case_id(row, case)) for row, case in cases]


def _call(row, case, inputs):
    return row.fn_for(case)(*inputs, **case.kwargs)


def _directions(inputs, seed=11):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(x.shape) for x in inputs]


def _central_difference(fn, inputs, directions):
    """(f(x + eps v) - f(x - eps v)) / (2 eps), the directional derivative by finite differences."""
    def at(sign):
        with mg.no_grad():
            return fn(*[mg.tensor(x.data + sign * EPS * v) for x, v in zip(inputs, directions)]).data
    return (at(+1) - at(-1)) / (2 * EPS)


def _reverse(fn, inputs, u):
    """J^T u: the gradient of sum(fn(inputs) * u) with respect to each input (zeros where none arrives)."""
    for x in inputs:
        x.grad = None
        x.requires_grad = True
    with mg.Tape():
        (fn(*inputs) * u).sum().backward()
    grads = [np.zeros_like(x.data) if x.grad is None else x.grad.copy() for x in inputs]
    for x in inputs:
        x.grad = None
    return grads


def _assert_close(actual, expected, rtol, atol, what):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=what)


def _check_transpose(fn, inputs, directions, u, what):
    """<u, J v> == <J^T u, v> for these directions (None: that input held constant)."""
    _, tangent = mg.jvp(fn, inputs, directions)
    grads = _reverse(fn, inputs, u)
    forward = float(np.sum(u * tangent))
    reverse = float(sum(np.sum(g * v) for g, v in zip(grads, directions) if v is not None))
    magnitude = sum(float(np.sum(np.abs(g * v))) for g, v in zip(grads, directions) if v is not None)
    scale = max(1.0, float(np.sum(np.abs(u * tangent))), magnitude)
    assert abs(forward - reverse) <= 1e-11 * scale, f"{what}: <u, J v> = {forward!r} but <J^T u, v> = {reverse!r}"


# ---------------------------------------------------------------------------
# Every op has a tangent rule of its own
# ---------------------------------------------------------------------------


def _op_classes():
    found, todo = [], [mg.ops.Function]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("minigrad.ops.") and "name" in vars(sub):
                found.append(sub)
    return found


def test_every_op_class_of_minigrad_defines_a_tangent_rule():
    classes = _op_classes()
    assert len(classes) >= len(ROWS_BY_NAME), [c.__name__ for c in classes]
    missing = [c.__qualname__ for c in classes if getattr(c.jvp, "__func__", None) is mg.ops.Function.jvp.__func__]
    assert not missing, f"op classes without a tangent rule (jvp): {missing}"


def test_the_table_covers_every_op_class():
    """Each op class's name is a row of the table, so the table-driven checks below reach every rule."""
    names = {c.name for c in _op_classes()}
    assert names <= set(ROWS_BY_NAME), names - set(ROWS_BY_NAME)


# ---------------------------------------------------------------------------
# The table: finite differences, reverse mode, primal values
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_tangent_matches_finite_differences(row, case):
    inputs = make_inputs(row, case, requires_grad=False)
    v = _directions(inputs)
    fn = row.fn_for(case)

    def f(*xs):
        return fn(*xs, **case.kwargs)

    with mg.Tape() as tape:
        out, tangent = mg.jvp(f, inputs, v)
        assert len(tape) == 0, "jvp recorded nodes although nothing requires grad"
    assert isinstance(tangent, np.ndarray) and tangent.shape == out.shape and tangent.dtype == np.float64
    np.testing.assert_array_equal(out.data, _call(row, case, inputs).data, err_msg="jvp changed the primal output")
    expected = case.grad_factor * _central_difference(f, inputs, v)
    _assert_close(tangent, expected, rtol=1e-5, atol=1e-6, what=f"{case_id(row, case)}: J v against finite differences")
    if case.grad_factor == 0.0:
        assert np.all(tangent == 0), f"{case_id(row, case)}: the tangent must be exactly zero"


@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_tangent_is_the_transpose_of_backward(row, case):
    inputs = make_inputs(row, case)
    fn = row.fn_for(case)

    def f(*xs):
        return fn(*xs, **case.kwargs)

    v = _directions(inputs)
    with mg.Tape():
        u = np.random.default_rng(5).standard_normal(f(*inputs).shape)
    _check_transpose(f, inputs, v, u, f"{case_id(row, case)}, all inputs")
    if len(inputs) > 1:  # each input alone, the others constant (None)
        for i in range(len(inputs)):
            only = [vi if j == i else None for j, vi in enumerate(v)]
            _check_transpose(f, inputs, only, u, f"{case_id(row, case)}, input {i} alone")


@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_tangent_is_the_same_with_and_without_a_tape(row, case):
    """With requires_grad the rule reads a tape node, without it a scratch context: same numbers."""
    v = _directions(make_inputs(row, case))
    fn = row.fn_for(case)
    results = []
    for requires_grad in (False, True):
        inputs = make_inputs(row, case, requires_grad=requires_grad)
        with mg.Tape() as tape:
            out, tangent = mg.jvp(lambda *xs: fn(*xs, **case.kwargs), inputs, v)
            recorded = len(tape)
        assert (recorded > 0) == requires_grad
        assert out.requires_grad == requires_grad
        results.append((out.data, tangent))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_float32_tangent(row, case):
    fn = row.fn_for(case)
    v = _directions(make_inputs(row, case))
    _, t64 = mg.jvp(lambda *xs: fn(*xs, **case.kwargs), make_inputs(row, case, requires_grad=False), v)
    x32 = make_inputs(row, case, dtype=np.float32, requires_grad=False)
    _, t32 = mg.jvp(lambda *xs: fn(*xs, **case.kwargs), x32, [d.astype(np.float32) for d in v])
    assert t32.dtype == np.float32, f"{case_id(row, case)}: float32 inputs gave a {t32.dtype} tangent"
    _assert_close(t32, t64, rtol=1e-4, atol=1e-4, what=f"{case_id(row, case)}: float32 tangent")


@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_noncontiguous_tangents(row, case):
    fn = row.fn_for(case)
    inputs = make_inputs(row, case, requires_grad=False)
    v = _directions(inputs)
    strided = []
    for d in v:  # every other element of a bigger array, read backwards
        every_other = tuple(slice(None, None, 2) for _ in d.shape)
        backwards = tuple(slice(None, None, -1) for _ in d.shape)
        big = np.full(tuple(2 * n for n in d.shape), np.nan)
        big[every_other] = d[backwards]
        view = big[every_other][backwards]
        np.testing.assert_array_equal(view, d)
        assert d.size <= 1 or not view.flags.c_contiguous
        strided.append(view)
    _, contiguous = mg.jvp(lambda *xs: fn(*xs, **case.kwargs), inputs, v)
    _, from_views = mg.jvp(lambda *xs: fn(*xs, **case.kwargs), inputs, strided)
    np.testing.assert_allclose(from_views, contiguous, rtol=1e-13, atol=1e-13)


# ---------------------------------------------------------------------------
# Hypothesis: broadcasting, batch dimensions, axes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", BROADCASTING_BINARY)
@HYPOTHESIS
@given(data=st.data())
def test_broadcasting_binary_ops(op, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3), label="shapes")
    row = ROWS_BY_NAME[op]
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    rng = np.random.default_rng(seed)
    inputs = [mg.tensor(dom(rng, s)) for dom, s in zip((row.domains[0], row.domains[-1]), shapes.input_shapes)]
    v = [rng.standard_normal(s) for s in shapes.input_shapes]
    out, tangent = mg.jvp(row.fn, inputs, v)
    assert tangent.shape == shapes.result_shape
    _assert_close(tangent, _central_difference(row.fn, inputs, v), 1e-5, 1e-6, f"{op} {shapes.input_shapes}")
    _check_transpose(row.fn, inputs, v, rng.standard_normal(out.shape), f"{op} {shapes.input_shapes}")


@HYPOTHESIS
@given(data=st.data())
def test_matmul_batch_broadcasting(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3), label="shapes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    inputs = [mg.tensor(rng.standard_normal(s)) for s in shapes.input_shapes]
    v = [rng.standard_normal(s) for s in shapes.input_shapes]
    out, tangent = mg.jvp(mg.matmul, inputs, v)
    _assert_close(tangent, _central_difference(mg.matmul, inputs, v), 1e-5, 1e-6, f"matmul {shapes.input_shapes}")
    _check_transpose(mg.matmul, inputs, v, rng.standard_normal(out.shape), f"matmul {shapes.input_shapes}")


@pytest.mark.parametrize("op", REDUCTIONS)
@HYPOTHESIS
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), keepdims=st.booleans(), data=st.data())
def test_reductions_random_axis(op, shape, keepdims, data):
    axes = st.none() if not shape else st.one_of(
        st.none(), st.integers(-len(shape), len(shape) - 1),
        st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)).map(tuple))
    axis = data.draw(axes, label="axis")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    x = mg.tensor((no_ties if op == "max" else real)(rng, shape))
    v = [rng.standard_normal(shape)]

    def fn(a):
        return ROWS_BY_NAME[op].fn(a, axis=axis, keepdims=keepdims)

    out, tangent = mg.jvp(fn, (x,), v)
    _assert_close(tangent, _central_difference(fn, [x], v), 1e-5, 1e-6, f"{op}({shape}, axis={axis})")
    _check_transpose(fn, [x], v, rng.standard_normal(out.shape), f"{op}({shape}, axis={axis})")


def test_max_tangent_at_a_tie_is_the_mean_of_the_tied_tangents():
    """At a tie the max is not differentiable; the rule is the transpose of backward's even split."""
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    _, tangent = mg.jvp(lambda a: mg.max(a, axis=1), (x,), (np.array([[5.0, 1.0, 2.0], [3.0, 6.0, 9.0]]),))
    np.testing.assert_array_equal(tangent, [1.5, 6.0])


# ---------------------------------------------------------------------------
# The gradient-editing nodes
# ---------------------------------------------------------------------------


def test_stop_gradient_and_scale_grad_tangents_follow_their_backward():
    x = mg.tensor(np.array([1.0, -2.0, 0.5]))
    v = np.array([0.3, 0.1, -1.0])
    _, cut = mg.jvp(lambda a: mg.stop_gradient(a) * 2.0 + a, (x,), (v,))
    np.testing.assert_array_equal(cut, v)  # only the path around the cut carries the tangent
    _, scaled = mg.jvp(lambda a: mg.scale_grad(a, 0.25) * 2.0, (x,), (v,))
    np.testing.assert_array_equal(scaled, 0.5 * v)


# ---------------------------------------------------------------------------
# Arguments: what jvp accepts, what it refuses and how it says so
# ---------------------------------------------------------------------------


def test_tangent_shape_must_equal_primal_shape():
    with pytest.raises(ShapeError, match=r"jvp: tangent 1 has shape \(4,\) but primal 1 has shape \(3, 4\); "
                                         r"a tangent is a direction in its primal's space"):
        mg.jvp(mg.ops.mul, (mg.tensor(np.ones((3, 4))), mg.tensor(np.ones((3, 4)))), (np.ones((3, 4)), np.ones(4)))


def test_count_mismatch():
    message = r"jvp: 2 primals but 1 tangent; pass one tangent per primal \(None for a primal held constant\)"
    with pytest.raises(ValueError, match=message):
        mg.jvp(mg.ops.mul, (mg.tensor(1.0), mg.tensor(2.0)), (np.ones(()),))


@pytest.mark.parametrize("primals, tangents, what", [
    (mg.tensor(np.ones(3)), (np.ones(3),),
     r"jvp: primals must be a tuple \(or list\) .* got a Tensor; for a single one write primals=\(x,\)"),
    ((mg.tensor(np.ones(3)),), np.ones(3),
     r"jvp: tangents must be a tuple \(or list\) .* got a ndarray; for a single one write tangents=\(v,\)"),
])
def test_primals_and_tangents_must_be_sequences(primals, tangents, what):
    """A bare array is refused, not zipped row by row (the mistake the backward check catches too)."""
    with pytest.raises(TypeError, match=what):
        mg.jvp(mg.tanh, primals, tangents)


def test_a_tangent_must_hold_real_numbers():
    with pytest.raises(DtypeError, match="jvp: tangent 0 holds <U1 values"):
        mg.jvp(mg.tanh, (mg.tensor(np.ones(2)),), (np.array(["a", "b"]),))


def test_the_same_tensor_twice_is_refused():
    x = mg.tensor(np.ones(2))
    with pytest.raises(ValueError, match="jvp: primals 0 and 1 are the same Tensor"):
        mg.jvp(mg.ops.mul, (x, x), (np.ones(2), np.ones(2)))


def test_fn_must_return_tensors():
    with pytest.raises(TypeError, match="jvp: fn must return a Tensor or a tuple of Tensors, got float"):
        mg.jvp(lambda a: 1.0, (mg.tensor(1.0),), (1.0,))
    with pytest.raises(TypeError, match="got a tuple holding Tensor, ndarray"):
        mg.jvp(lambda a: (a * 2, a.data), (mg.tensor(1.0),), (1.0,))


def test_arrays_numbers_and_none_tangents():
    """Primals may be arrays or numbers (then constants made into tensors); tangents may be Tensors, lists
    or numbers, cast to the primal's dtype; None holds a primal constant."""
    out, t = mg.jvp(lambda a, b: a * b, (np.array([1.0, 2.0]), 3), ([1, 1], None))
    np.testing.assert_array_equal(out.data, [3.0, 6.0])
    np.testing.assert_array_equal(t, [3.0, 3.0])
    x32 = mg.tensor([1.0, 2.0], dtype=np.float32)
    _, t32 = mg.jvp(lambda a: a * a, (x32,), (mg.tensor([1.0, 0.0]),))
    assert t32.dtype == np.float32
    np.testing.assert_array_equal(t32, [2.0, 0.0])


def test_several_outputs_and_an_output_without_tangent():
    x, y = mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0])
    c = mg.tensor([5.0, 6.0])
    (p, s, k), (dp, ds, dk) = mg.jvp(lambda a, b: (a * b, (a + b).sum(), c * 2), (x, y), ([1.0, 0.0], [0.0, 1.0]))
    np.testing.assert_array_equal(dp, [3.0, 2.0])
    assert ds.shape == () and float(ds) == 2.0
    np.testing.assert_array_equal(dk, [0.0, 0.0])  # depends on no primal: a zero tangent, not None


def test_returned_tangents_are_fresh_arrays():
    """Even for fn = identity, the tangent handed back is a copy: writing into it leaves the input's alone."""
    v = np.array([1.0, 2.0])
    out, t = mg.jvp(lambda a: a, (mg.tensor([0.0, 0.0]),), (v,))
    t[0] = 99.0
    np.testing.assert_array_equal(v, [1.0, 2.0])
    _, t = mg.jvp(lambda a: a + mg.tensor(np.zeros((3, 2))), (mg.tensor([0.0, 0.0]),), (v,))  # a broadcast tangent
    t[0, 0] = 7.0
    np.testing.assert_array_equal(t[1], v)


def test_a_primal_read_from_a_closure_carries_its_tangent():
    """The RTRL use: fn reads a module's parameter itself; passing that Parameter as the primal is enough."""
    W = mg.nn.Parameter(np.array([[1.0, 2.0], [3.0, 4.0]]))
    h = mg.tensor([1.0, -1.0])
    dW = np.array([[0.0, 1.0], [0.0, 0.0]])
    _, t = mg.jvp(lambda _W: mg.tanh(mg.matvec(W, h)), (W,), (dW,))
    z = W.data @ h.data
    np.testing.assert_allclose(t, (1 - np.tanh(z) ** 2) * (dW @ h.data))


def test_jvp_does_not_nest():
    x = mg.tensor(1.0)
    with pytest.raises(RuntimeError, match="jvp: called inside the fn of another jvp"):
        mg.jvp(lambda a: mg.jvp(mg.tanh, (a,), (1.0,))[0], (x,), (1.0,))
    # and the failed call left forward mode off
    assert base._forward["tangents"] is None
    out, t = mg.jvp(mg.tanh, (x,), (1.0,))
    assert float(t) == pytest.approx(1 - np.tanh(1.0) ** 2)


def test_an_error_inside_fn_leaves_forward_mode_off():
    with pytest.raises(ShapeError):
        mg.jvp(lambda a: a @ mg.tensor(np.ones(5)), (mg.tensor(np.ones(3)),), (np.ones(3),))
    assert base._forward["tangents"] is None


# ---------------------------------------------------------------------------
# Ops without a tangent rule, and rules that break the contract
# ---------------------------------------------------------------------------


class NoRule(mg.ops.Function):
    """y = 2 a, with a backward but no tangent rule (like a fused node before its rule is written)."""

    name = "elman_scan_like"

    @staticmethod
    def forward(ctx, a):
        return 2.0 * a

    @staticmethod
    def backward(ctx, grad):
        return (2.0 * grad,)


def test_an_op_without_a_tangent_rule_says_so():
    x = mg.tensor(np.ones(3))
    message = (r"forward mode: op 'elman_scan_like' \(class NoRule in tests.minigrad.test_jvp\) has no tangent rule. "
               r"Define one beside its backward: a static method jvp\(ctx, \*tangents\)")
    with pytest.raises(TangentError, match=message):
        mg.jvp(NoRule.apply, (x,), (np.ones(3),))
    assert base._forward["tangents"] is None


def test_an_op_without_a_rule_is_fine_where_no_tangent_reaches_it():
    """Only a tangent reaching the op needs its rule: a constant input, or reverse mode, works as before."""
    c = mg.tensor(np.ones(3))
    x = mg.tensor(np.arange(3.0), requires_grad=True)
    out, t = mg.jvp(lambda a: a * NoRule.apply(c), (x,), (np.ones(3),))
    np.testing.assert_array_equal(t, [2.0, 2.0, 2.0])
    with mg.Tape():
        NoRule.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize("rule, message", [
    (lambda ctx, da: da[:2], r"returned a tangent of shape \(2,\) for an output of shape \(3,\)"),
    (lambda ctx, da: (da,), r"returned a tuple \(a tangent rule returns one array, the output's tangent\)"),
    (lambda ctx, da: da.tolist(), r"returned a list \(a tangent rule returns one array"),
    (lambda ctx, da: 1.0, r"returned a float; it must return a NumPy array of the output's shape \(3,\)"),
])
def test_a_tangent_rule_that_breaks_the_contract(rule, message):
    class BadRule(NoRule):
        name = "bad_rule"
        jvp = staticmethod(rule)

    with pytest.raises(TangentError, match=r"forward mode: the tangent rule of op 'bad_rule' .*" + message):
        mg.jvp(BadRule.apply, (mg.tensor(np.ones(3)),), (np.ones(3),))


def test_a_tangent_rule_may_return_a_broadcastable_tangent():
    class Broadcasting(NoRule):
        name = "broadcasting_rule"

        @staticmethod
        def jvp(ctx, da):
            return 2.0 * da[:1]  # wrong in general, but shape (1,) broadcasts to (3,): the engine stretches it

    _, t = mg.jvp(Broadcasting.apply, (mg.tensor(np.ones(3)),), (np.array([1.0, 5.0, 5.0]),))
    np.testing.assert_array_equal(t, [2.0, 2.0, 2.0])


def test_anomaly_mode_reports_a_non_finite_tangent():
    """sqrt at 0: a finite value with an infinite slope. The forward is fine; the tangent is not."""
    x = mg.tensor(np.array([0.0, 1.0]))
    message = r"anomaly: the tangent rule of 'pow' produced a non-finite tangent"
    with mg.detect_anomaly(), np.errstate(divide="ignore"), pytest.raises(AnomalyError, match=message):
        mg.jvp(lambda a: a ** 0.5, (x,), (np.ones(2),))
    with np.errstate(divide="ignore"):
        _, t = mg.jvp(lambda a: a ** 0.5, (x,), (np.ones(2),))  # outside anomaly mode: no error
    assert np.isinf(t[0]) and t[1] == 0.5


# ---------------------------------------------------------------------------
# Forward mode and the tape: no_grad, recording, detach, memory
# ---------------------------------------------------------------------------


def test_jvp_under_no_grad_records_nothing_and_still_differentiates():
    W = mg.tensor(np.array([[0.5, -1.0], [2.0, 0.3]]), requires_grad=True)
    x = mg.tensor([1.0, 2.0])
    with mg.Tape() as tape, mg.no_grad():
        out, t = mg.jvp(lambda a: mg.tanh(mg.matvec(W, a)), (x,), (np.array([1.0, 0.0]),))
    assert len(tape) == 0 and not out.requires_grad
    z = W.data @ x.data
    np.testing.assert_allclose(t, (1 - np.tanh(z) ** 2) * W.data[:, 0])


def test_no_grad_inside_fn_does_not_stop_tangents():
    """no_grad stops recording, not forward mode; stop_gradient or detach hold a value constant."""
    x = mg.tensor([1.0, 2.0])

    def fn(a):
        with mg.no_grad():
            y = a * a
        return y + a.detach() * 10.0

    _, t = mg.jvp(fn, (x,), (np.ones(2),))
    np.testing.assert_array_equal(t, [2.0, 4.0])  # the detached path contributes nothing


def test_jvp_with_grad_enabled_records_the_graph_for_a_later_backward():
    """Mixed use: the forward inside jvp records as usual, so the same outputs backpropagate."""
    rng = np.random.default_rng(2)
    W = mg.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    x = mg.tensor(rng.standard_normal(3))
    with mg.Tape() as tape:
        out, t = mg.jvp(lambda a: mg.tanh(mg.matvec(W, a)).sum(), (x,), (np.ones(3),))
        assert [n.op for n in tape.nodes()] == ["matvec", "tanh", "sum"]
        out.backward()
    z = W.data @ x.data
    np.testing.assert_allclose(W.grad, np.outer(1 - np.tanh(z) ** 2, x.data))
    np.testing.assert_allclose(t, (1 - np.tanh(z) ** 2) @ W.data @ np.ones(3))


def test_forward_mode_holds_no_dead_tensor():
    """A 2,000-step recurrence under jvp: the tangents of dead intermediates are dropped as they die,
    so the table stays small (forward mode's memory does not grow with the sequence)."""
    A = mg.tensor(np.eye(4) * 0.5)
    sizes = []

    def fn(h):
        for t in range(2000):
            h = mg.tanh(mg.matvec(A, h) + 0.1)
            if t % 500 == 0:
                sizes.append(len(base._forward["tangents"]))
        return h

    _, t = mg.jvp(fn, (mg.tensor(np.zeros(4)),), (np.ones(4),))
    assert max(sizes) <= 4, f"the tangent table grew: {sizes}"
    assert np.all(np.isfinite(t))


def test_no_tangent_survives_the_call():
    """After jvp returns, forward mode is off and its table is emptied, though the primal and the
    output (which had tangents) are still alive: nothing holds their tangents any more."""
    x = mg.tensor(np.ones(2))
    tables = []

    def fn(a):
        tables.append(base._forward["tangents"])
        return a * 3.0

    out, _ = mg.jvp(fn, (x,), (np.ones(2),))
    assert base._forward["tangents"] is None
    assert tables[0] == {}, f"tangents left behind: {len(tables[0])}"
    y = out * 2.0  # outside jvp: an ordinary op
    assert isinstance(y, mg.Tensor) and y.shape == (2,)


# ---------------------------------------------------------------------------
# A small RNN built from ops
# ---------------------------------------------------------------------------


def _rnn_loss(A, B, b, h0, xs, ys):
    """h_t = tanh(A h_{t-1} + B x_t + b), loss = mse(C h_t, y_t) summed over steps (C fixed)."""
    C = mg.tensor(np.linspace(-1.0, 1.0, 2 * A.shape[0]).reshape(2, A.shape[0]))
    h, losses = h0, []
    for t in range(xs.shape[0]):
        h = mg.tanh(mg.matvec(A, h) + mg.matvec(B, xs[t]) + b)
        losses.append(mg.mse(mg.matvec(C, h), mg.tensor(ys[t]), reduction="sum"))
    return mg.stack(losses).sum(), h


def test_jvp_through_an_rnn_matches_finite_differences_and_backward():
    rng = np.random.default_rng(8)
    H, n_in, batch, T = 4, 3, 2, 6
    primals = [mg.tensor(rng.standard_normal(s) * 0.5) for s in ((H, H), (H, n_in), (H,), (batch, H))]
    xs, ys = rng.standard_normal((T, batch, n_in)), rng.standard_normal((T, batch, 2))
    v = _directions(primals, seed=3)

    def loss(*ps):
        return _rnn_loss(*ps, xs, ys)[0]

    def last_state(*ps):
        return _rnn_loss(*ps, xs, ys)[1]

    (value, state), (dvalue, dstate) = mg.jvp(lambda *ps: _rnn_loss(*ps, xs, ys), primals, v)
    _assert_close(dvalue, _central_difference(loss, primals, v), 1e-6, 1e-7, "d loss")
    _assert_close(dstate, _central_difference(last_state, primals, v), 1e-6, 1e-7, "d h_T")
    grads = _reverse(loss, primals, np.ones(()))
    reverse = sum(float(np.sum(g * d)) for g, d in zip(grads, v))
    assert float(dvalue) == pytest.approx(reverse, rel=1e-11, abs=1e-12)
    _check_transpose(last_state, primals, v, rng.standard_normal((batch, H)), "h_T")


def test_rnn_with_a_truncated_edge_matches_truncated_backward():
    """scale_grad on the recurrent edge: forward and reverse mode compute the same edited derivative,
    and it is not the true one."""
    rng = np.random.default_rng(9)
    A, B = mg.tensor(rng.standard_normal((3, 3)) * 0.6), mg.tensor(rng.standard_normal((3, 2)))
    xs = rng.standard_normal((5, 2))

    def fn(A_, B_):
        h = mg.tensor(np.zeros(3))
        for t in range(5):
            h = mg.tanh(mg.matvec(A_, mg.scale_grad(h, 0.5)) + mg.matvec(B_, xs[t]))
        return h

    v = _directions([A, B], seed=4)
    u = rng.standard_normal(3)
    _check_transpose(fn, [A, B], v, u, "scaled recurrent edge")
    _, t = mg.jvp(fn, (A, B), v)
    true = _central_difference(fn, [A, B], v)
    assert not np.allclose(t, true, rtol=1e-3), "the edited derivative should differ from the true one here"


# ---------------------------------------------------------------------------
# The tangent kernel without numba
# ---------------------------------------------------------------------------

_NOJIT_SCRIPT = """
import json, sys, numpy as np
from minigrad.kernels.losses import softmax_cross_entropy_tangent as k
assert not hasattr(k, "py_func"), "still compiled"
rng = np.random.default_rng(1)
probs = rng.dirichlet(np.ones(5), size=6)
targets = np.array([0, 4, -1, 2, 1, -1], dtype=np.int64)
tangents = rng.standard_normal((6, 5))
print(json.dumps(k(probs, targets, tangents).tolist()))
"""


def test_tangent_kernel_gives_the_same_numbers_without_jit():
    from minigrad.kernels.losses import softmax_cross_entropy_tangent as kernel

    assert hasattr(kernel, "py_func"), "the kernel is not compiled in this process"
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    result = subprocess.run([sys.executable, "-c", _NOJIT_SCRIPT], env=env, capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))), check=True)
    plain = np.array(json.loads(result.stdout))
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5), size=6)
    targets = np.array([0, 4, -1, 2, 1, -1], dtype=np.int64)
    tangents = rng.standard_normal((6, 5))
    compiled = kernel(probs, targets, tangents)
    np.testing.assert_array_equal(compiled[[2, 5]], 0.0)  # rows without a target
    np.testing.assert_allclose(compiled, plain, rtol=1e-15, atol=1e-15)
    expected = np.where(targets >= 0, (probs * tangents).sum(axis=1) - tangents[np.arange(6), np.maximum(targets, 0)], 0)
    np.testing.assert_allclose(compiled, expected, rtol=1e-14, atol=1e-15)
