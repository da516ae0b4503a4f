"""Reductions over an axis (or all axes): sum, mean, max.

The backward spreads dL/dz back over the reduced axes: sum copies it to every
element, mean copies it divided by the count, max sends it to the maximum
(split evenly between ties).  The tangent rule reduces the input's tangent the
same way the forward reduces the input: sum and mean are linear, and max takes
the tangent at the maximum (the mean of the tangents at tied maxima, which is
the transpose of splitting the gradient evenly between them).
"""

import numpy as np

from ..errors import ShapeError
from .base import Function, check_axis


def _expand(grad, input_shape, axis, keepdims):
    """Give the reduced axes back to ``grad`` so it broadcasts against the input."""
    if axis is None:
        return grad.reshape((1,) * len(input_shape))
    if not keepdims:
        axes = axis if isinstance(axis, tuple) else (axis,)
        grad = np.expand_dims(grad, tuple(a % len(input_shape) for a in axes))
    return grad


class _Reduction(Function):
    @classmethod
    def check(cls, a, axis, keepdims):
        check_axis(cls.name, axis, a.ndim)


class Sum(_Reduction):
    """z = sum of a over axis;  dL/da = dL/dz broadcast back.  Tangent: dz = sum of da over axis."""

    name = "sum"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.meta = (axis, keepdims)
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, grad):
        axis, keepdims = ctx.meta
        shape = ctx.inputs[0].shape
        return (np.broadcast_to(_expand(grad, shape, axis, keepdims), shape),)

    @staticmethod
    def jvp(ctx, da):
        axis, keepdims = ctx.meta
        return da.sum(axis=axis, keepdims=keepdims)


class Mean(_Reduction):
    """z = mean of a over axis;  dL/da = dL/dz / n broadcast back (n = elements averaged).
    Tangent: dz = mean of da over axis."""

    name = "mean"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        out = np.asarray(a.mean(axis=axis, keepdims=keepdims))
        ctx.meta = (axis, keepdims, a.size // out.size if out.size else 1)
        return out

    @staticmethod
    def backward(ctx, grad):
        axis, keepdims, count = ctx.meta
        shape = ctx.inputs[0].shape
        return (np.broadcast_to(_expand(grad, shape, axis, keepdims) / count, shape),)

    @staticmethod
    def jvp(ctx, da):
        axis, keepdims, _ = ctx.meta
        return da.mean(axis=axis, keepdims=keepdims)


class Max(_Reduction):
    """z = max of a over axis;  dL/da = dL/dz at the argmax (ties share it equally), 0 elsewhere.
    Tangent: dz = da at the argmax (at a tie, the mean of da over the tied maxima)."""

    name = "max"

    @classmethod
    def check(cls, a, axis, keepdims):
        super().check(a, axis, keepdims)
        if a.size == 0:
            raise ShapeError(f"max: cannot take the maximum of an empty tensor of shape {a.shape}")

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        top = a.max(axis=axis, keepdims=True)
        ctx.save(a == top)
        ctx.meta = (axis, keepdims)
        return np.asarray(top if keepdims else a.max(axis=axis))

    @staticmethod
    def backward(ctx, grad):
        (is_max,) = ctx.saved
        axis, keepdims = ctx.meta
        shape = ctx.inputs[0].shape
        share = is_max / is_max.sum(axis=axis, keepdims=True)
        return (share * _expand(grad, shape, axis, keepdims),)

    @staticmethod
    def jvp(ctx, da):
        (is_max,) = ctx.saved
        axis, keepdims = ctx.meta
        share = is_max / is_max.sum(axis=axis, keepdims=True)
        return (share * da).sum(axis=axis, keepdims=keepdims)


def sum(a, axis=None, keepdims=False):
    return Sum.apply(a, axis=_axis(Sum.name, a, axis), keepdims=keepdims)


def mean(a, axis=None, keepdims=False):
    return Mean.apply(a, axis=_axis(Mean.name, a, axis), keepdims=keepdims)


def max(a, axis=None, keepdims=False):
    return Max.apply(a, axis=_axis(Max.name, a, axis), keepdims=keepdims)


def _axis(op, a, axis):
    """A list of axes as a tuple; for a 0-d tensor, axis 0 or -1 (its only "axis", alone or
    in a tuple) as None, so that sum, mean and max all treat a scalar alike.

    NumPy's sum and max take axis 0 or -1 on a 0-d array; its mean refuses both.  Any
    other axis of a 0-d tensor is refused with a ShapeError that names the op.
    """
    axis = tuple(axis) if isinstance(axis, list) else axis
    if axis is not None and np.ndim(getattr(a, "data", a)) == 0:
        axes = axis if isinstance(axis, tuple) else (axis,)
        check_axis(op, tuple(0 if isinstance(x, (int, np.integer)) and x == -1 else x for x in axes), 0)
        return None
    return axis
