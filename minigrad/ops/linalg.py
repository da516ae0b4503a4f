"""Matrix product, with NumPy's rules for 1-D operands and batch dimensions.

z = a @ b;  dL/da = dL/dz @ b^T,  dL/db = a^T @ dL/dz;  tangent dz = da @ b + a @ db.
A 1-D operand is treated as a row (left) or column (right) vector and the
added axis is removed again, so the backward formulas stay the 2-D ones.  (The
tangent needs no such care: it is made of products of the forward's own shapes.)
"""

import numpy as np

from ..errors import ShapeError
from .base import Function, unbroadcast


class MatMul(Function):
    """z = a @ b;  dL/da = dL/dz @ b^T, dL/db = a^T @ dL/dz.  Tangent: dz = da @ b + a @ db."""

    name = "matmul"

    @classmethod
    def check(cls, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
        inner_a = a.shape[-1]
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if inner_a != inner_b:
            raise ShapeError(f"matmul: shapes {a.shape} and {b.shape} do not align ({inner_a} != {inner_b})")
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ShapeError(f"matmul: batch dimensions of shapes {a.shape} and {b.shape} cannot be broadcast") from None

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        promoted = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1])
        g2 = grad.reshape(promoted)
        a_input, b_input = ctx.inputs
        grad_a = grad_b = None  # an input that needs no gradient does not get one computed
        if a_input.requires_grad:
            grad_a = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if b_input.requires_grad:
            grad_b = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return grad_a, grad_b

    @staticmethod
    def jvp(ctx, da, db):
        a, b = ctx.saved
        if db is None:
            return da @ b
        return a @ db if da is None else da @ b + a @ db


def matmul(a, b):
    return MatMul.apply(a, b)


class MatVec(Function):
    """z = W x, for a vector x or for every row of a batch X (then Z = X W^T).

    The product a recurrent cell writes as A h; one node instead of a transpose
    and a matmul.  dL/dW = sum over rows of g x^T,  dL/dx = W^T g (per row).
    Tangent: dz = dW x + W dx (per row).
    """

    name = "matvec"

    @classmethod
    def check(cls, W, x):
        if W.ndim != 2 or x.ndim == 0 or x.shape[-1] != W.shape[1]:
            raise ShapeError(
                f"matvec: W of shape {W.shape} cannot multiply x of shape {x.shape} "
                f"(needs a 2-D W and x with last dimension {W.shape[1] if W.ndim == 2 else '?'})"
            )

    @staticmethod
    def forward(ctx, W, x):
        ctx.save(W, x)
        return _rows_times(x, W.T)

    @staticmethod
    def backward(ctx, grad):
        W, x = ctx.saved
        W_input, x_input = ctx.inputs
        dW = grad.reshape(-1, W.shape[0]).T @ x.reshape(-1, W.shape[1]) if W_input.requires_grad else None
        dx = _rows_times(grad, W) if x_input.requires_grad else None  # skipped for data: often the biggest product
        return dW, dx

    @staticmethod
    def jvp(ctx, dW, dx):
        W, x = ctx.saved
        if dx is None:
            return _rows_times(x, dW.T)
        dz = _rows_times(dx, W.T)
        return dz if dW is None else dz + _rows_times(x, dW.T)


def _rows_times(x: np.ndarray, M: np.ndarray) -> np.ndarray:
    """x @ M with every leading axis of x stacked into rows: one BLAS call, not one per batch entry."""
    if x.ndim <= 2:
        return x @ M
    return (x.reshape(-1, x.shape[-1]) @ M).reshape(x.shape[:-1] + M.shape[-1:])


def matvec(W, x):
    return MatVec.apply(W, x)
