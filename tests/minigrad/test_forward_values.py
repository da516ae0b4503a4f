"""Forward values: every op of the table against a NumPy reference, plus the numerical
promises of the loss functions (stability for huge logits, skipped targets), the
dtype rules of tensors, comparisons and reflected operators."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import DtypeError

from .op_table import ALL_CASES, OPS, case_id, make_inputs


# ---------------------------------------------------------------------------
# NumPy references, written independently of the engine (plain formulas and loops)
# ---------------------------------------------------------------------------


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def ref_softmax(a, axis=-1):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def ref_log_softmax(a, axis=-1):
    m = a.max(axis=axis, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=axis, keepdims=True))


def ref_cross_entropy(logits, targets, reduction="mean"):
    """Row by row: -log(e^{x_t} / sum_c e^{x_c}); rows with target -1 are skipped."""
    logits = np.asarray(logits, dtype=np.float64)
    rows = logits.reshape(-1, logits.shape[-1])
    targets = np.asarray(targets).reshape(-1)
    total, count = 0.0, 0
    for row, t in zip(rows, targets):
        if t < 0:
            continue
        total += -np.log(np.exp(row[t]) / np.sum(np.exp(row)))
        count += 1
    return total / max(count, 1) if reduction == "mean" else total


def ref_mse(pred, target, reduction="mean"):
    keep = ~np.isnan(target)
    sq = (pred[keep] - target[keep]) ** 2
    return sq.sum() / max(keep.sum(), 1) if reduction == "mean" else sq.sum()


REFERENCE = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "neg": np.negative,
    "pow": lambda a, exponent: np.power(a, float(exponent)),
    "matmul": np.matmul,
    "matvec": lambda W, x: np.einsum("ij,...j->...i", W, x),
    "exp": np.exp,
    "log": np.log,
    "tanh": np.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "relu": lambda a: np.where(a > 0, a, 0.0),
    "sum": lambda a, axis=None, keepdims=False: np.sum(a, axis=_axis(axis), keepdims=keepdims),
    "mean": lambda a, axis=None, keepdims=False: np.mean(a, axis=_axis(axis), keepdims=keepdims),
    "max": lambda a, axis=None, keepdims=False: np.max(a, axis=_axis(axis), keepdims=keepdims),
    "reshape": lambda a, shape: np.reshape(a, shape),
    "transpose": lambda a, axes=None: np.transpose(a, axes),
    "getitem": lambda a, index: a[index],
    "take_rows": lambda W, index: W[index],
    "concat": lambda *arrays, axis=0: np.concatenate(arrays, axis=axis),
    "stack": lambda *arrays, axis=0: np.stack(arrays, axis=axis),
    "softmax": ref_softmax,
    "log_softmax": ref_log_softmax,
    "cross_entropy": ref_cross_entropy,
    "mse": ref_mse,
    "scale_grad": lambda a, c: a,
    "stop_gradient": lambda a: a,
}


def test_every_row_has_a_numpy_reference():
    missing = {row.name for row in OPS} - set(REFERENCE)
    assert not missing, f"add a NumPy reference for: {sorted(missing)}"


def _forward_params():
    out = []
    for row, case in ALL_CASES:
        if case.fn is not None:  # operator/method spellings: covered by the gradcheck suite
            continue
        out.append(pytest.param(row, case, id=case_id(row, case)))
    return out


@pytest.mark.parametrize("row, case", _forward_params())
def test_forward_matches_numpy(row, case):
    inputs = make_inputs(row, case, requires_grad=False)
    out = row.fn(*inputs, **case.kwargs)
    expected = np.asarray(REFERENCE[row.name](*(x.data.copy() for x in inputs), **case.kwargs))
    assert out.shape == expected.shape, f"{case_id(row, case)}: shape {out.shape}, NumPy gives {expected.shape}"
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12,
                               err_msg=f"{case_id(row, case)}: input shapes {[x.shape for x in inputs]}")


def _data_params():
    return [pytest.param(row, case, id=case_id(row, case)) for row, case in ALL_CASES]


@pytest.mark.parametrize("row, case", _data_params())
def test_output_data_is_an_ndarray(row, case):
    """Tensor.data is an ndarray for every op result, 0-d ones included (as for mg.tensor(3.0))."""
    out = row.fn_for(case)(*make_inputs(row, case), **case.kwargs)
    assert type(out.data) is np.ndarray, f"{case_id(row, case)}: data is {type(out.data)!r}, not np.ndarray (shape {out.shape})"


def test_detached_scalar_result_can_be_gradchecked():
    """The consequence that bites: a detached 0-d result is a leaf whose data cannot be nudged in place."""
    leaf = (mg.tensor(2.0, requires_grad=True) * 3.0).detach().requires_grad_()
    assert mg.gradcheck(lambda t: t * t, [leaf])


# ---------------------------------------------------------------------------
# softmax, log_softmax, cross_entropy, mse
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_sums_to_one_along_its_axis(axis):
    x = mg.tensor(np.random.default_rng(0).normal(0, 5, (3, 4, 5)))
    y = mg.softmax(x, axis=axis).data
    assert np.all(y > 0)
    np.testing.assert_allclose(y.sum(axis=axis), 1.0, rtol=0, atol=1e-14,
                               err_msg=f"softmax(axis={axis}) of shape {x.shape}")


@pytest.mark.parametrize("axis", [-1, 0])
def test_log_softmax_is_log_of_softmax(axis):
    x = mg.tensor(np.random.default_rng(1).normal(0, 3, (4, 6)))
    np.testing.assert_allclose(mg.log_softmax(x, axis=axis).data, np.log(mg.softmax(x, axis=axis).data),
                               rtol=1e-12, atol=1e-12)


def test_softmax_is_shift_invariant_and_stable():
    base = np.random.default_rng(2).standard_normal((3, 5))
    for shift in (1e4, -1e4, 700.0):
        shifted = mg.tensor(base + shift)
        s = mg.softmax(shifted).data
        ls = mg.log_softmax(shifted).data
        assert np.all(np.isfinite(s)) and np.all(np.isfinite(ls)), f"shift {shift}: non-finite"
        np.testing.assert_allclose(s, mg.softmax(mg.tensor(base)).data, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ls, mg.log_softmax(mg.tensor(base)).data, rtol=0, atol=1e-9)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_equals_hand_computation(reduction):
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((6, 4))
    targets = np.array([0, 3, -1, 2, -1, 1])
    loss = mg.cross_entropy(mg.tensor(logits), targets, reduction=reduction)
    assert loss.shape == ()
    by_hand = 0.0
    for row, t in zip(logits, targets):
        if t >= 0:
            by_hand += np.log(np.sum(np.exp(row))) - row[t]
    if reduction == "mean":
        by_hand /= 4  # four rows have a target; the two -1 rows do not count
    np.testing.assert_allclose(loss.item(), by_hand, rtol=1e-13)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    rng = np.random.default_rng(4)
    logits = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    targets = np.array([2, -1, 0, 1])
    with mg.Tape():
        mg.cross_entropy(logits, targets, reduction="sum").backward()
    expected = ref_softmax(logits.data)
    expected[np.arange(4), np.maximum(targets, 0)] -= 1.0
    expected[targets < 0] = 0.0
    np.testing.assert_allclose(logits.grad, expected, rtol=1e-12, atol=1e-15)


def test_cross_entropy_every_row_ignored_is_zero():
    logits = mg.tensor(np.ones((3, 4)), requires_grad=True)
    with mg.Tape():
        loss = mg.cross_entropy(logits, np.array([-1, -1, -1]))
        loss.backward()
    assert loss.item() == 0.0
    assert logits.grad is not None and np.all(logits.grad == 0)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_stable_for_huge_logits(reduction):
    rng = np.random.default_rng(5)
    base = rng.standard_normal((5, 7))
    targets = np.array([1, 6, -1, 0, 3])
    big = mg.tensor(base + 1e4, requires_grad=True)
    small = mg.tensor(base, requires_grad=True)
    with mg.Tape():
        loss_big = mg.cross_entropy(big, targets, reduction=reduction)
        loss_big.backward()
    with mg.Tape():
        loss_small = mg.cross_entropy(small, targets, reduction=reduction)
        loss_small.backward()
    assert np.isfinite(loss_big.item()), f"loss for logits around 1e4 is {loss_big.item()}"
    assert np.all(np.isfinite(big.grad))
    np.testing.assert_allclose(loss_big.item(), loss_small.item(), rtol=0, atol=1e-9,
                               err_msg="cross_entropy is not invariant to shifting the logits by 1e4")
    np.testing.assert_allclose(big.grad, small.grad, rtol=0, atol=1e-12)
    np.testing.assert_allclose(loss_small.item(), ref_cross_entropy(base, targets, reduction), rtol=1e-13)


def test_mse_skips_nan_targets():
    pred = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    target = np.array([[1.5, np.nan, 2.0], [np.nan, np.nan, 8.0]])
    kept = np.array([(1.0 - 1.5) ** 2, (3.0 - 2.0) ** 2, (6.0 - 8.0) ** 2])
    p = mg.tensor(pred, requires_grad=True)
    with mg.Tape():
        loss = mg.mse(p, target)
        loss.backward()
    np.testing.assert_allclose(loss.item(), kept.mean(), rtol=1e-15)
    assert np.isfinite(p.grad).all()
    expected_grad = np.where(np.isnan(target), 0.0, 2 * (pred - np.nan_to_num(target)) / 3)
    np.testing.assert_allclose(p.grad, expected_grad, rtol=1e-15)
    np.testing.assert_allclose(mg.mse(mg.tensor(pred), target, reduction="sum").item(), kept.sum(), rtol=1e-15)


# ---------------------------------------------------------------------------
# Saturating activations
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_saturates_exactly_without_overflow(dtype):
    x = mg.tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0]), dtype=dtype, requires_grad=True)
    with np.errstate(all="raise"), mg.Tape():
        y = mg.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype
    assert y.data[0] == 0.0 and y.data[-1] == 1.0, f"sigmoid(+-1000) = {y.data[[0, -1]]}"
    assert y.data[2] == 0.5
    assert np.all(np.isfinite(y.data)) and np.all(np.isfinite(x.grad))
    assert x.grad[0] == 0.0 and x.grad[-1] == 0.0 and x.grad[2] == 0.25


def test_tanh_saturates():
    y = mg.tanh(mg.tensor([-1000.0, 1000.0])).data
    np.testing.assert_array_equal(y, [-1.0, 1.0])


# ---------------------------------------------------------------------------
# Comparisons, reflected operators, dtypes
# ---------------------------------------------------------------------------

COMPARISONS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@pytest.mark.parametrize("op", list(COMPARISONS))
@pytest.mark.parametrize("other", ["tensor", "scalar", "ndarray", "reflected-ndarray"])
def test_comparisons_give_plain_bool_arrays(op, other):
    a = np.array([[0.5, 1.0, 2.0], [1.0, -1.0, 3.0]])
    b = np.array([1.0, 1.0, 2.5])
    x = mg.tensor(a, requires_grad=True)
    compare = COMPARISONS[op]
    if other == "tensor":
        got, expected = compare(x, mg.tensor(b)), compare(a, b)
    elif other == "scalar":
        got, expected = compare(x, 1.0), compare(a, 1.0)
    elif other == "ndarray":
        got, expected = compare(x, b), compare(a, b)
    else:
        got, expected = compare(b, x), compare(b, a)
    assert type(got) is np.ndarray, f"{op} with {other} gave {type(got).__name__}"
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, expected)


REFLECTED = {
    "+": (lambda a, b: a + b),
    "-": (lambda a, b: a - b),
    "*": (lambda a, b: a * b),
    "/": (lambda a, b: a / b),
    "@": (lambda a, b: a @ b),
}


@pytest.mark.parametrize("op", list(REFLECTED))
def test_ndarray_op_tensor_is_a_tensor(op):
    """ndarray (op) Tensor must call the Tensor's reflected method, not broadcast the Tensor as an object."""
    rng = np.random.default_rng(6)
    left = rng.uniform(0.5, 2.0, (3, 3))
    right = rng.uniform(0.5, 2.0, (3, 3))
    t = mg.tensor(right, requires_grad=True)
    f = REFLECTED[op]
    out = f(left, t)
    assert isinstance(out, mg.Tensor), f"ndarray {op} Tensor gave {type(out).__name__}"
    assert out.requires_grad and out.dtype == np.float64
    np.testing.assert_allclose(out.data, f(left, right), rtol=1e-15)
    # and gradient flows to the tensor operand
    with mg.Tape():
        f(left, t).sum().backward()
    assert t.grad is not None and t.grad.shape == right.shape


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_python_number_op_tensor(op):
    t = mg.tensor([1.0, 2.0, 4.0])
    out = REFLECTED[op](2.0, t)
    assert isinstance(out, mg.Tensor)
    np.testing.assert_allclose(out.data, REFLECTED[op](2.0, np.array([1.0, 2.0, 4.0])), rtol=1e-15)


def test_int_data_becomes_float64():
    for data in ([1, 2, 3], np.arange(3, dtype=np.int32), np.arange(3, dtype=np.uint8), [True, False]):
        t = mg.tensor(data)
        assert t.dtype == np.float64, f"{data!r} gave {t.dtype}"
        np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float64))
    assert mg.tensor(3).shape == () and mg.tensor(3).dtype == np.float64


def test_float32_on_request_is_kept():
    from_float = mg.tensor([1.5, 2.5], dtype=np.float32)
    from_int = mg.tensor([1, 2], dtype="float32")
    from_f32_data = mg.tensor(np.array([1.0, 2.0], dtype=np.float32))
    for t in (from_float, from_int, from_f32_data):
        assert t.dtype == np.float32
    x = mg.tensor(np.linspace(0.5, 2.0, 6).reshape(2, 3), dtype=np.float32, requires_grad=True)
    chain = [x * 2.0, 1.0 - x, x / 3, x ** 2, x.exp(), x.log(), x.tanh(), x.sigmoid(), x.relu(),
             x.sum(axis=0), x.max(), x.softmax(), x.T @ x, x[0], mg.mse(x, np.zeros((2, 3), np.float32))]
    for y in chain:
        assert y.dtype == np.float32, f"{y!r} lost float32"
    with mg.Tape():
        (x * 2.0 + x.exp()).sum().backward()
    assert x.grad.dtype == np.float32


def test_float64_ndarray_with_float32_tensor_promotes_like_numpy():
    """Documented in tensor.as_tensor: float arrays keep their own dtype, so float64 data wins."""
    x = mg.tensor([1.0, 2.0], dtype=np.float32)
    assert (x + np.array([1.0, 1.0])).dtype == np.float64
    assert (x + np.array([1, 1])).dtype == np.float32  # int arrays take the tensor's dtype


def test_non_float_dtypes_are_refused():
    with pytest.raises(DtypeError, match="float64 or float32"):
        mg.tensor([1, 2], dtype=np.int64)
    with pytest.raises(DtypeError, match="cannot make a differentiable tensor"):
        mg.tensor(np.array(["a", "b"]))
    with pytest.raises(DtypeError):
        mg.tensor([1.0]) + "x"
