"""Gradient checks for every op, driven by the op table (tests/minigrad/op_table.py).

For every row and case of the table:
  * the case really records the op it is named after;
  * mg.gradcheck passes in float64 (and rejects scale_grad / stop_gradient,
    whose backward is deliberately not the derivative: this also shows that the
    checker can fail);
  * a directional derivative (one random direction) matches backward times the
    row's grad_factor;
  * float32 gives the float64 forward (and gradients) to float32 accuracy, and stays float32;
  * a non-contiguous view of the inputs (transposed, strided, reversed) gives
    the same values and gradients as a contiguous copy.
Hypothesis then draws shapes (with broadcasting) and memory layouts for the
broadcasting binary ops, matmul batch dimensions, and the reductions.
The same table drives the forward-mode (tangent rule) checks in test_jvp.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.errors import GradcheckError

from .op_table import (
    ALL_CASES,
    BROADCASTING_BINARY,
    OPS,
    REDUCTIONS,
    ROWS_BY_NAME,
    case_id,
    make_inputs,
    no_ties,
    real,
)

HYPOTHESIS = settings(max_examples=25, deadline=None, database=None)


def _params(cases):
    return [pytest.param(row, case, id=case_id(row, case)) for row, case in cases]


TRUE_GRAD = [(r, c) for r, c in ALL_CASES if c.grad_factor == 1.0]
EDITED_GRAD = [(r, c) for r, c in ALL_CASES if c.grad_factor != 1.0]


def _call(row, case, inputs):
    return row.fn_for(case)(*inputs, **case.kwargs)


def _describe(inputs):
    return ", ".join(f"{x.shape} strides {x.data.strides}" for x in inputs)


def _grads_of(row, case, inputs, weights=None):
    """Backward of sum(op(inputs) * weights); the gradient of each input (zeros if none arrived)."""
    for x in inputs:
        x.grad = None
    with mg.Tape():
        out = _call(row, case, inputs)
        if weights is None:
            weights = np.random.default_rng(7).standard_normal(out.shape)
        (out * weights).sum().backward()
    grads = [np.zeros_like(x.data) if x.grad is None else x.grad.copy() for x in inputs]
    for x in inputs:
        x.grad = None
    return out, grads


# ---------------------------------------------------------------------------
# The table covers the engine
# ---------------------------------------------------------------------------


def test_every_public_op_has_a_table_row():
    public = set(mg.ops.__all__) - {"Function", "unbroadcast"}
    names = [row.name for row in OPS]
    assert len(names) == len(set(names)), f"duplicate rows: {sorted(n for n in names if names.count(n) > 1)}"
    missing = public - set(names)
    assert not missing, f"ops in minigrad.ops.__all__ without a row in op_table.OPS: {sorted(missing)}"
    unknown = set(names) - public
    assert not unknown, f"rows naming no public op of minigrad.ops: {sorted(unknown)}"
    for row in OPS:
        assert callable(getattr(mg.ops, row.name)), row.name
        assert row.cases, f"row {row.name} has no cases"


@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_case_records_its_op(row, case):
    """Each case really runs the op its row is named after (a node with that op name is recorded)."""
    inputs = make_inputs(row, case)
    with mg.Tape() as tape:
        out = _call(row, case, inputs)
        recorded = [node.op for node in tape.nodes()]
    assert isinstance(out, mg.Tensor)
    assert out.requires_grad
    assert row.name in recorded, f"{case_id(row, case)} recorded {recorded}, not {row.name!r}"


# ---------------------------------------------------------------------------
# gradcheck in float64
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("row, case", _params(TRUE_GRAD))
def test_gradcheck_float64(row, case):
    inputs = make_inputs(row, case)
    assert mg.gradcheck(lambda *xs: _call(row, case, xs), inputs)


@pytest.mark.parametrize("row, case", _params(EDITED_GRAD))
def test_gradcheck_rejects_edited_gradients(row, case):
    """scale_grad(x, c) and stop_gradient(x) are identities whose backward is c (resp. 0), not 1:
    gradcheck must say so. This is also the proof that gradcheck can fail."""
    inputs = make_inputs(row, case)
    with pytest.raises(GradcheckError, match="gradcheck failed"):
        mg.gradcheck(lambda *xs: _call(row, case, xs), inputs)


def test_gradcheck_fails_on_a_wrong_backward():
    """A deliberately wrong op (derivative of sin written as +sin) is caught, and the report names the input."""

    class BadSin(mg.ops.Function):
        name = "bad_sin"

        @staticmethod
        def forward(ctx, a):
            ctx.save(a)
            return np.sin(a)

        @staticmethod
        def backward(ctx, grad):
            return (grad * np.sin(ctx.saved[0]),)

    x = mg.tensor(np.linspace(0.3, 1.2, 4), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(4,\)\)"):
        mg.gradcheck(BadSin.apply, [x])


def test_stop_gradient_grad_is_exactly_zero():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 4))
    # the only path goes through stop_gradient: nothing may arrive
    x = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    with mg.Tape():
        (mg.stop_gradient(x) * w).sum().backward()
    assert x.grad is None or np.all(x.grad == 0), f"grad through stop_gradient: {x.grad}"
    # with a second, ordinary path, x gets exactly that path's gradient (3 w) and nothing more
    with mg.Tape():
        (mg.stop_gradient(x) * w + x * (3 * w)).sum().backward()
    np.testing.assert_array_equal(x.grad, 3 * w, err_msg="stop_gradient leaked gradient")


def test_scale_grad_multiplies_exactly():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((2, 5))
    x = mg.tensor(rng.standard_normal((2, 5)), requires_grad=True)
    with mg.Tape():
        y = mg.scale_grad(x, 0.25)
        np.testing.assert_array_equal(y.data, x.data)
        (y * w).sum().backward()
    np.testing.assert_array_equal(x.grad, 0.25 * w)


def test_max_splits_gradient_between_ties():
    """At a tie the maximum is not differentiable; the documented choice is to share dL/dz equally."""
    x = mg.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    with mg.Tape():
        mg.max(x, axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


# ---------------------------------------------------------------------------
# Directional derivatives: one random direction per case
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_directional_derivative(row, case):
    """<grad, v> == grad_factor * (f(x + eps v) - f(x - eps v)) / (2 eps) for a random direction v."""
    rng = np.random.default_rng(11)
    inputs = make_inputs(row, case)
    out, grads = _grads_of(row, case, inputs)
    w = np.random.default_rng(7).standard_normal(out.shape)
    directions = [rng.standard_normal(x.shape) for x in inputs]
    eps = 1e-6

    def objective(sign):
        with mg.no_grad():
            moved = [mg.tensor(x.data + sign * eps * v) for x, v in zip(inputs, directions)]
            return float(np.sum(_call(row, case, moved).data * w))

    numeric = (objective(+1) - objective(-1)) / (2 * eps)
    analytic = float(sum(np.sum(g * v) for g, v in zip(grads, directions)))
    expected = case.grad_factor * numeric
    assert abs(analytic - expected) <= 1e-6 + 1e-5 * abs(expected), (
        f"{case_id(row, case)}: inputs {_describe(inputs)}: <grad, v> = {analytic!r}, "
        f"{case.grad_factor} * directional difference = {expected!r}, difference {analytic - expected:.3g}"
    )
    if case.grad_factor == 0.0:
        assert all(np.all(g == 0) for g in grads), f"{case_id(row, case)}: gradient must be exactly zero"


# ---------------------------------------------------------------------------
# float32
# ---------------------------------------------------------------------------


def _close(actual, desired, rtol, what):
    desired = np.asarray(desired, dtype=np.float64)
    scale = np.nanmax(np.abs(desired)) if desired.size and not np.all(np.isnan(desired)) else 1.0
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), desired, rtol=rtol, atol=rtol * max(1.0, scale),
        err_msg=f"{what}: shape {np.shape(desired)}",
    )


@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_float32_forward_parity(row, case):
    x64 = make_inputs(row, case, requires_grad=False)
    x32 = make_inputs(row, case, dtype=np.float32, requires_grad=False)
    out64 = _call(row, case, x64)
    out32 = _call(row, case, x32)
    assert out64.dtype == np.float64, f"{case_id(row, case)}: float64 inputs gave {out64.dtype}"
    assert out32.dtype == np.float32, f"{case_id(row, case)}: float32 inputs gave {out32.dtype}"
    assert out32.shape == out64.shape
    _close(out32.data, out64.data, 1e-5, f"{case_id(row, case)} float32 vs float64 forward")


@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_float32_backward_parity(row, case):
    x64 = make_inputs(row, case)
    x32 = make_inputs(row, case, dtype=np.float32)
    out64, g64 = _grads_of(row, case, x64)
    w = np.random.default_rng(7).standard_normal(out64.shape).astype(np.float32)
    _, g32 = _grads_of(row, case, x32, weights=w)
    for i, (a, b) in enumerate(zip(g32, g64)):
        assert a.dtype == np.float32, f"{case_id(row, case)}: grad of input {i} is {a.dtype}"
        _close(a, b, 1e-4, f"{case_id(row, case)} float32 vs float64 grad of input {i}")


# ---------------------------------------------------------------------------
# Non-contiguous inputs
# ---------------------------------------------------------------------------


def as_layout(values: np.ndarray, layout: str, perm=None) -> np.ndarray:
    """A view with ``values``' shape and contents but another memory layout.

    transposed: a C-contiguous array of permuted shape, transposed back;
    strided: every other element of a NaN-padded array twice as big on each axis;
    reversed: negative strides on every axis.
    """
    if layout == "contiguous" or values.ndim == 0:
        view = values.copy()
    elif layout == "transposed":
        perm = tuple(reversed(range(values.ndim))) if perm is None else tuple(perm)
        base = np.ascontiguousarray(values.transpose(perm))
        view = base.transpose(np.argsort(perm))
    elif layout == "strided":
        base = np.full(tuple(2 * n for n in values.shape), np.nan)
        base[tuple(slice(None, None, 2) for _ in values.shape)] = values
        view = base[tuple(slice(None, None, 2) for _ in values.shape)]
    elif layout == "reversed":
        base = values[tuple(slice(None, None, -1) for _ in values.shape)].copy()
        view = base[tuple(slice(None, None, -1) for _ in values.shape)]
    else:
        raise ValueError(layout)
    assert view.shape == values.shape
    np.testing.assert_array_equal(view, values)
    return view


def _wrap(view, requires_grad=True):
    t = mg.tensor(view, requires_grad=requires_grad)
    assert t.data.strides == view.strides, "mg.tensor copied the view: the test would not be testing a view"
    return t


@pytest.mark.parametrize("layout", ["transposed", "strided", "reversed"])
@pytest.mark.parametrize("row, case", _params(ALL_CASES))
def test_noncontiguous_inputs_match_contiguous(row, case, layout):
    contiguous = make_inputs(row, case)
    views = [_wrap(as_layout(x.data, layout)) for x in contiguous]
    # every view that can be laid out differently really is non-contiguous
    for v in views:
        if v.size > 1 and (layout != "transposed" or sum(n > 1 for n in v.shape) >= 2):
            assert not v.data.flags.c_contiguous, f"{layout} view of shape {v.shape} is contiguous"
    out_c, g_c = _grads_of(row, case, contiguous)
    out_v, g_v = _grads_of(row, case, views)
    np.testing.assert_allclose(out_v.data, out_c.data, rtol=1e-12, atol=1e-12,
                               err_msg=f"forward on {layout} views: {_describe(views)}")
    for i, (a, b) in enumerate(zip(g_v, g_c)):
        assert a.shape == b.shape == contiguous[i].shape
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12,
                                   err_msg=f"grad of input {i} on {layout} views: {_describe(views)}")


# ---------------------------------------------------------------------------
# Hypothesis: shapes, broadcasting and layouts
# ---------------------------------------------------------------------------

LAYOUTS = ("contiguous", "transposed", "strided", "reversed")


@st.composite
def arrays_in(draw, shape, domain=real):
    """float64 values from ``domain`` in a random memory layout (possibly a non-contiguous view)."""
    values = domain(np.random.default_rng(draw(st.integers(0, 2**32 - 1))), shape)
    layout = draw(st.sampled_from(LAYOUTS))
    perm = draw(st.permutations(range(len(shape)))) if layout == "transposed" else None
    return as_layout(values, layout, perm)


def _check_grad_shapes(fn, tensors):
    with mg.Tape():
        out = fn(*tensors)
        (out * np.random.default_rng(0).standard_normal(out.shape)).sum().backward()
    for t in tensors:
        assert t.grad is not None and t.grad.shape == t.shape, (
            f"grad shape {None if t.grad is None else t.grad.shape} for input of shape {t.shape}"
        )
        t.grad = None


NUMPY_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


@pytest.mark.parametrize("op", BROADCASTING_BINARY)
@HYPOTHESIS
@given(data=st.data())
def test_broadcasting_binary_ops(op, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3), label="shapes")
    row = ROWS_BY_NAME[op]
    dom_a, dom_b = row.domains[0], row.domains[-1]
    a = data.draw(arrays_in(shapes.input_shapes[0], dom_a), label="a")
    b = data.draw(arrays_in(shapes.input_shapes[1], dom_b), label="b")
    ta, tb = _wrap(a), _wrap(b)
    out = row.fn(ta, tb)
    assert out.shape == shapes.result_shape, f"{op}: {a.shape} and {b.shape} gave {out.shape}, expected {shapes.result_shape}"
    np.testing.assert_allclose(out.data, NUMPY_BINARY[op](a, b), rtol=1e-14, atol=0,
                               err_msg=f"{op}: shapes {a.shape} {b.shape}, strides {a.strides} {b.strides}")
    _check_grad_shapes(row.fn, [ta, tb])
    assert mg.gradcheck(row.fn, [ta, tb])


@HYPOTHESIS
@given(data=st.data())
def test_matmul_batch_broadcasting(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3), label="shapes")
    sa, sb = shapes.input_shapes
    a = data.draw(arrays_in(sa), label="a")
    b = data.draw(arrays_in(sb), label="b")
    ta, tb = _wrap(a), _wrap(b)
    out = mg.matmul(ta, tb)
    expected = np.matmul(a, b)
    assert out.shape == expected.shape, f"matmul {sa} @ {sb}: {out.shape} != {expected.shape}"
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12, err_msg=f"matmul {sa} @ {sb}")
    _check_grad_shapes(mg.matmul, [ta, tb])
    assert mg.gradcheck(mg.matmul, [ta, tb])


@st.composite
def axes_for(draw, ndim):
    """None, one axis (either sign), or a tuple of distinct axes (either sign, maybe empty)."""
    if ndim == 0:
        return None
    signed = lambda a: st.sampled_from([a, a - ndim])  # noqa: E731
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(0, ndim - 1).flatmap(signed))
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(draw(signed(a)) for a in chosen)


NUMPY_REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max}


@pytest.mark.parametrize("op", REDUCTIONS)
@HYPOTHESIS
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), keepdims=st.booleans(), data=st.data())
def test_reductions_random_axis(op, shape, keepdims, data):
    axis = data.draw(axes_for(len(shape)), label="axis")
    row = ROWS_BY_NAME[op]
    a = data.draw(arrays_in(shape, no_ties if op == "max" else real), label="a")
    ta = _wrap(a)

    def fn(x):
        return row.fn(x, axis=axis, keepdims=keepdims)

    out = fn(ta)
    expected = NUMPY_REDUCE[op](a, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected), f"{op}(shape {shape}, axis={axis}, keepdims={keepdims}): {out.shape}"
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12,
                               err_msg=f"{op}(shape {shape}, axis={axis}, keepdims={keepdims}), strides {a.strides}")
    _check_grad_shapes(fn, [ta])
    assert mg.gradcheck(fn, [ta])
