"""Reductions over an axis (or all axes): sum, mean, max.

The backward spreads dL/dz back over the reduced axes: sum copies it to every
element, mean copies it divided by the count, max sends it to the maximum
(split evenly between ties).
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
    """z = sum of a over axis;  dL/da = dL/dz broadcast back."""

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


class Mean(_Reduction):
    """z = mean of a over axis;  dL/da = dL/dz / n broadcast back (n = elements averaged)."""

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


class Max(_Reduction):
    """z = max of a over axis;  dL/da = dL/dz at the argmax (ties share it equally), 0 elsewhere."""

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


def sum(a, axis=None, keepdims=False):
    return Sum.apply(a, axis=_axis(a, axis), keepdims=keepdims)


def mean(a, axis=None, keepdims=False):
    return Mean.apply(a, axis=_axis(a, axis), keepdims=keepdims)


def max(a, axis=None, keepdims=False):
    return Max.apply(a, axis=_axis(a, axis), keepdims=keepdims)


def _axis(a, axis):
    """A list of axes as a tuple; for a 0-d tensor, axis 0 or -1 (its only "axis") as None,
    so that sum, mean and max all treat a scalar alike (NumPy's mean would refuse it)."""
    axis = tuple(axis) if isinstance(axis, list) else axis
    if axis is not None and np.ndim(getattr(a, "data", a)) == 0:
        check_axis("reduction", axis, 0)
        return None
    return axis
