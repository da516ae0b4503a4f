"""Every user mistake gets an error that names the op and the shapes or dtypes involved."""

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import DtypeError, ShapeError


def t(*shape):
    return mg.tensor(np.ones(shape), requires_grad=True)


@pytest.mark.parametrize("make, error, message", [
    (lambda: t(3, 4) @ t(5, 2), ShapeError, r"matmul: shapes \(3, 4\) and \(5, 2\) do not align"),
    (lambda: t(2, 3, 4) @ t(5, 4, 2), ShapeError, r"matmul: batch dimensions of shapes \(2, 3, 4\) and \(5, 4, 2\)"),
    (lambda: mg.tensor(2.0) @ t(2), ShapeError, r"matmul: operands must have at least 1 dimension"),
    (lambda: t(3, 4) + t(3), ShapeError, r"add: shapes \(3, 4\) and \(3,\) cannot be broadcast"),
    (lambda: t(2) * t(3), ShapeError, r"mul: shapes \(2,\) and \(3,\)"),
    (lambda: t(2) - t(3), ShapeError, r"sub: shapes"),
    (lambda: t(2) / t(3), ShapeError, r"div: shapes"),
    (lambda: t(2, 3).reshape(4, 2), ShapeError, r"reshape: cannot reshape a tensor of shape \(2, 3\) \(6 elements\) into \(4, 2\)"),
    (lambda: t(2, 3).transpose(0, 0), ShapeError, r"transpose: axes \(0, 0\) are not a permutation"),
    (lambda: t(2, 3)[5], ShapeError, r"getitem: index 5 is invalid for shape \(2, 3\)"),
    (lambda: t(2, 3)[np.array([0.5])], DtypeError, r"getitem: index arrays must hold integers"),
    (lambda: mg.concat([t(2, 3), t(3, 3)], axis=1), ShapeError, r"concat: tensors must have the same shape except along axis 1; got \(2, 3\), \(3, 3\)"),
    (lambda: mg.stack([t(2), t(3)]), ShapeError, r"stack: tensors must have the same shape"),
    (lambda: mg.concat([], axis=0), ShapeError, r"concat: needs at least one tensor"),
    (lambda: t(2, 3).sum(axis=2), ShapeError, r"sum: axis 2 is out of range for a tensor with 2 dimensions"),
    (lambda: t(2, 3).mean(axis=-3), ShapeError, r"mean: axis -3 is out of range"),
    (lambda: t(0).max(), ShapeError, r"max: cannot take the maximum of an empty tensor"),
    (lambda: t(2).sum(axis=0.5), DtypeError, r"sum: axis must be an int"),
    (lambda: mg.softmax(t(2, 3), axis=4), ShapeError, r"softmax: axis 4 is out of range"),
    (lambda: mg.cross_entropy(t(4, 3), np.array([0, 1, 2])), ShapeError,
     r"cross_entropy: targets of shape \(3,\) do not match logits of shape \(4, 3\) \(expected targets of shape \(4,\)\)"),
    (lambda: mg.cross_entropy(t(2, 3), np.array([0, 3])), ValueError, r"cross_entropy: target 3 is out of range for 3 classes"),
    (lambda: mg.cross_entropy(t(2, 3), np.array([0.0, 1.0])), DtypeError, r"cross_entropy: targets must be integer class indices, got dtype float64"),
    (lambda: mg.cross_entropy(t(2, 3), np.array([0, 1]), reduction="avg"), ValueError, r"cross_entropy: reduction must be one of"),
    (lambda: mg.mse(t(4, 1), t(4)), ShapeError, r"mse: prediction of shape \(4, 1\) and target of shape \(4,\) differ"),
    (lambda: t(2) ** t(2), DtypeError, r"pow: the exponent must be a constant real number, got Tensor"),
    (lambda: mg.scale_grad(t(2), "2"), DtypeError, r"scale_grad: the factor must be a real number"),
    (lambda: mg.tensor(["a", "b"]), DtypeError, r"tensor: cannot make a differentiable tensor from <U1 data"),
    (lambda: mg.tensor([1 + 2j]), DtypeError, r"tensor: cannot make a differentiable tensor from complex128"),
    (lambda: mg.tensor([1.0], dtype=np.float16), DtypeError, r"tensor: dtype must be float64 or float32, got float16"),
    (lambda: t(2) + "x", DtypeError, r"add: cannot use a str as a tensor"),
    (lambda: mg.ops.take_rows(t(4, 3), np.array([0, 4])), ValueError, r"take_rows: index 4 is out of range for W with 4 rows"),
    (lambda: mg.ops.take_rows(t(4, 3), np.array([0.0])), DtypeError, r"take_rows: index must hold integers, got float64"),
    (lambda: mg.ops.take_rows(t(4), np.array([0])), ShapeError, r"take_rows: W must be a matrix \(rows to take\), got shape \(4,\)"),
    (lambda: mg.tensor([1.0]).backward(), RuntimeError, r"backward: this tensor does not require grad"),
    (lambda: (t(2) * 2.0).backward(grad=np.ones(3)), ShapeError, r"backward: grad has shape \(3,\) but the tensor has shape \(2,\)"),
])
def test_error_messages_name_the_op_and_the_shapes(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_errors_are_also_the_builtin_exceptions_users_catch():
    with pytest.raises(ValueError):
        t(3, 4) @ t(5, 2)
    with pytest.raises(TypeError):
        mg.tensor(["a"])


def test_integers_are_converted_to_float64_and_float32_is_kept_on_request():
    assert mg.tensor([1, 2, 3]).dtype == np.float64
    assert mg.tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert mg.tensor(np.ones(2, dtype=np.float32)).dtype == np.float32
    assert (mg.tensor(np.ones(2, dtype=np.float32)) * 2.0).dtype == np.float32
