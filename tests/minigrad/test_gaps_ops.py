"""Gaps in the op tests that mutation testing of minigrad/ops/*.py found (issue 20; docs/mutation.md).

Each test checks what an op promises: an exact error naming the op (not NumPy's own
exception), a value or gradient against NumPy or a hand derivation, a documented default.
"""

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import DtypeError, ShapeError


def t(*shape, requires_grad=False):
    return mg.tensor(np.arange(float(np.prod(shape))).reshape(shape) + 1.0, requires_grad=requires_grad)


# -- linalg: matvec's check -----------------------------------------------------------------------
@pytest.mark.parametrize("W_shape, x_shape, last", [
    ((3,), (3,), "?"),  # W must be a matrix
    ((3, 2), (), "2"),  # x needs a last axis
    ((2, 3), (4,), "3"),  # and that axis must be W's second
    ((2, 3), (5, 2), "3"),
])
def test_matvec_refuses_shapes_it_cannot_multiply_and_names_them(W_shape, x_shape, last):
    W, x = mg.tensor(np.ones(W_shape)), mg.tensor(np.ones(x_shape))
    message = (f"matvec: W of shape {W_shape} cannot multiply x of shape {x_shape} "
               f"(needs a 2-D W and x with last dimension {last})")
    with pytest.raises(ShapeError, match=f"^{re.escape(message)}$"):
        mg.matvec(W, x)


# -- reduce: an axis out of range is refused by every reduction --------------------------------------
@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [2, -3, (0, 2)])
def test_a_reduction_refuses_an_axis_the_tensor_does_not_have(reduce, axis):
    bad = [a for a in (axis if isinstance(axis, tuple) else (axis,)) if not -2 <= a < 2][0]
    with pytest.raises(ShapeError, match=rf"^{reduce}: axis {bad} is out of range for a tensor with 2 dimensions$"):
        getattr(t(2, 3), reduce)(axis=axis)


# -- shape ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, axes", [((3,), (-1,)), ((3,), (0,)), ((2, 3), (-1, 0)), ((2, 3, 4), (-1, 0, -2))])
def test_transpose_takes_negative_axes_as_numpy_does(shape, axes):
    x = t(*shape, requires_grad=True)
    y = x.transpose(axes)
    np.testing.assert_array_equal(y.data, x.data.transpose(axes))
    weights = np.arange(y.data.size, dtype=float).reshape(y.shape)
    (y * mg.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(x.grad, weights.transpose(np.argsort([a % len(shape) for a in axes])))


@pytest.mark.parametrize("shape, axes, bad", [
    ((3,), (1,), 1), ((3,), (-2,), -2), ((2, 3), (2, 1), 2), ((2, 3), (0, -3), -3),  # each wraps modulo ndim
])
def test_transpose_refuses_an_axis_out_of_range_even_where_it_wraps_to_a_permutation(shape, axes, bad):
    message = rf"^transpose: axis {bad} is out of range for a tensor with {len(shape)} dimensions$"
    with pytest.raises(ShapeError, match=message):
        t(*shape).transpose(axes)


@pytest.mark.parametrize("index", [3, -4])
def test_an_integer_index_just_past_either_end_is_refused_by_getitem(index):
    with pytest.raises(ShapeError, match=rf"^getitem: index {index} is invalid for shape \(3, 2\)"):
        t(3, 2)[index]


@pytest.mark.parametrize("index", [2, -3])
def test_an_integer_index_at_either_end_takes_that_row_and_sends_its_gradient_back(index):
    x = t(3, 2, requires_grad=True)
    y = x[index]
    np.testing.assert_array_equal(y.data, x.data[index])
    y.sum().backward()
    want = np.zeros((3, 2))
    want[index] = 1.0
    np.testing.assert_array_equal(x.grad, want)


def test_getitem_takes_a_list_of_integers_as_an_index_array_and_adds_up_repeats():
    x = t(3, 2, requires_grad=True)
    y = x[[0, 2, 0]]
    np.testing.assert_array_equal(y.data, x.data[[0, 2, 0]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]])


def test_getitem_refuses_a_list_of_floats_as_it_refuses_an_array_of_them():
    with pytest.raises(DtypeError, match=r"^getitem: index arrays must hold integers or booleans, got float64$"):
        t(3, 2)[[0.0, 2.0]]


def test_take_rows_takes_a_list_of_integers():
    W = t(4, 3, requires_grad=True)
    y = mg.ops.take_rows(W, [3, 0, 3])
    np.testing.assert_array_equal(y.data, W.data[[3, 0, 3]])
    y.sum().backward()
    np.testing.assert_array_equal(W.grad, [[1.0] * 3, [0.0] * 3, [0.0] * 3, [2.0] * 3])


def test_take_rows_refuses_a_list_of_floats():
    with pytest.raises(DtypeError, match=r"^take_rows: index must hold integers, got float64$"):
        mg.ops.take_rows(t(4, 3), [0.0, 1.0])


def test_concat_joins_along_the_first_axis_by_default():
    a, b = t(2, 3), t(1, 3)
    np.testing.assert_array_equal(mg.concat([a, b]).data, np.concatenate([a.data, b.data]))


@pytest.mark.parametrize("axis", [1, -2])
def test_concat_refuses_an_axis_the_tensors_do_not_have(axis):
    with pytest.raises(ShapeError, match=rf"^concat: axis {axis} is out of range for a tensor with 1 dimensions$"):
        mg.concat([t(2), t(3)], axis=axis)


@pytest.mark.parametrize("axis", [1, -2])
def test_stack_takes_an_axis_one_past_the_tensors_own(axis):
    a, b = t(2), t(2) * 2.0
    np.testing.assert_array_equal(mg.stack([a, b], axis=axis).data, np.stack([a.data, b.data], axis=axis))
