"""Ops that move values around without changing them: reshape, transpose,
indexing, concatenation and stacking.  Their backward moves the gradient back
to where each value came from.  They are linear, so their tangent rule is the
forward itself applied to the tangents (a constant input's tangent is zeros)."""

import numpy as np

from ..errors import DtypeError, ShapeError
from ..kernels import scatter_add_rows
from .base import Function, check_axis, out_of_range


class Reshape(Function):
    """z = a.reshape(shape);  dL/da = (dL/dz).reshape(a.shape).  Tangent: dz = da.reshape(shape)."""

    name = "reshape"

    @classmethod
    def check(cls, a, shape):
        try:
            np.empty(a.shape, dtype=np.bool_).reshape(shape)
        except (ValueError, TypeError):
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {shape}") from None

    @staticmethod
    def forward(ctx, a, shape):
        ctx.meta = shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return (grad.reshape(ctx.inputs[0].shape),)

    @staticmethod
    def jvp(ctx, da):
        return da.reshape(ctx.meta)


class Transpose(Function):
    """z = a.transpose(axes);  dL/da = (dL/dz).transpose(inverse of axes).  Tangent: dz = da.transpose(axes)."""

    name = "transpose"

    @classmethod
    def check(cls, a, axes):
        if axes is None:
            return
        check_axis(cls.name, axes, a.ndim)  # each in range: the modulo below would wrap axis ndim to 0
        if sorted(int(x) % max(a.ndim, 1) for x in axes) != list(range(a.ndim)):
            raise ShapeError(f"transpose: axes {tuple(axes)} are not a permutation of the {a.ndim} axes of shape {a.shape}")

    @staticmethod
    def forward(ctx, a, axes):
        ctx.meta = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, grad):
        axes = ctx.meta
        if axes is None:
            return (grad.transpose(),)
        return (grad.transpose(np.argsort([a % grad.ndim for a in axes])),)

    @staticmethod
    def jvp(ctx, da):
        return da.transpose(ctx.meta)


def _is_basic(index) -> bool:
    """True for ints, slices, None and Ellipsis (no index arrays): then a[index] is a view."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, np.integer, slice, type(None), type(Ellipsis))) for p in parts)


class GetItem(Function):
    """z = a[index];  dL/da is zero except at the selected places, which get dL/dz
    (added up where an index array picks the same element twice).  Tangent: dz = da[index]."""

    name = "getitem"

    @classmethod
    def check(cls, a, index):
        if isinstance(index, int) and a.ndim and -a.shape[0] <= index < a.shape[0]:
            return  # the common case (the newest state of a stack, say), checked without a trial
        try:
            np.empty(a.shape, dtype=np.bool_)[index]
        except IndexError as e:
            raise ShapeError(f"getitem: index {index!r} is invalid for shape {a.shape}: {e}") from None

    @staticmethod
    def forward(ctx, a, index):
        ctx.meta = index
        return a[index]

    @staticmethod
    def backward(ctx, grad):
        a = ctx.inputs[0]
        out = np.zeros(a.shape, dtype=grad.dtype)
        if _is_basic(ctx.meta):
            out[ctx.meta] += grad
        else:
            np.add.at(out, ctx.meta, grad)
        return (out,)

    @staticmethod
    def jvp(ctx, da):
        return da[ctx.meta]


class TakeRows(Function):
    """z = W[index] for an integer array ``index``: the rows of a matrix W it names, shape
    index.shape + (W.shape[1],).  An embedding lookup, or B x for one-hot inputs x given
    by their indices (then the rows of B^T).

    dL/dW[i] = the sum of dL/dz over every place where index == i (a numba scatter:
    no full-size temporary per row, and ten times faster than np.add.at).
    Tangent: dz = dW[index] (a gather, like the forward).
    """

    name = "take_rows"

    @classmethod
    def check(cls, W, index):
        if W.ndim != 2:
            raise ShapeError(f"take_rows: W must be a matrix (rows to take), got shape {W.shape}")
        bad = out_of_range(index, 0, W.shape[0])
        if bad is not None:
            raise ValueError(f"take_rows: index {bad} is out of range for W with {W.shape[0]} rows")

    @staticmethod
    def forward(ctx, W, index):
        ctx.meta = index
        return np.ascontiguousarray(W)[index]  # a transposed W (B^T) would be read column by column

    @staticmethod
    def backward(ctx, grad):
        return (rows_gradient(ctx.inputs[0].shape, ctx.meta, grad),)

    @staticmethod
    def jvp(ctx, dW):
        return dW[ctx.meta]


def rows_gradient(shape: tuple, index: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """dL/dW of the lookup z = W[index] for W of ``shape``: each gradient row added into
    the row it was read from (a numba scatter)."""
    out = np.zeros(shape, dtype=grad.dtype)
    scatter_add_rows(out, np.ascontiguousarray(index).reshape(-1), np.ascontiguousarray(grad).reshape(-1, shape[1]))
    return out


def _check_joinable(op, tensors, axis, same_shape):
    if not tensors:
        raise ShapeError(f"{op}: needs at least one tensor")
    first = tensors[0].shape
    check_axis(op, axis, len(first) + (1 if same_shape else 0))
    for t in tensors[1:]:
        if same_shape:
            ok = t.shape == first
        else:
            ax = axis % len(first)
            ok = t.ndim == len(first) and all(x == y for i, (x, y) in enumerate(zip(t.shape, first)) if i != ax)
        if not ok:
            shapes = ", ".join(str(x.shape) for x in tensors)
            need = "the same shape" if same_shape else f"the same shape except along axis {axis}"
            raise ShapeError(f"{op}: tensors must have {need}; got {shapes}")


class Concat(Function):
    """z = concatenate([a_1, ..., a_n], axis);  dL/da_i is the slice of dL/dz that a_i filled.
    Tangent: dz = concatenate([da_1, ..., da_n], axis)."""

    name = "concat"

    @classmethod
    def check(cls, *tensors, axis):
        _check_joinable(cls.name, tensors, axis, same_shape=False)

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.meta = (axis, np.cumsum([a.shape[axis] for a in arrays])[:-1])
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        axis, splits = ctx.meta
        return tuple(np.split(grad, splits, axis=axis))

    @staticmethod
    def jvp(ctx, *tangents):
        return np.concatenate(_zeros_for_none(tangents, ctx.inputs), axis=ctx.meta[0])


class Stack(Function):
    """z = stack([a_1, ..., a_n], axis);  dL/da_i = dL/dz taken at position i along axis.
    Tangent: dz = stack([da_1, ..., da_n], axis)."""

    name = "stack"

    @classmethod
    def check(cls, *tensors, axis):
        _check_joinable(cls.name, tensors, axis, same_shape=True)

    @staticmethod
    def forward(ctx, *arrays, axis):
        ctx.meta = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, grad):
        return tuple(np.moveaxis(grad, ctx.meta, 0))

    @staticmethod
    def jvp(ctx, *tangents):
        return np.stack(_zeros_for_none(tangents, ctx.inputs), axis=ctx.meta)


def _zeros_for_none(tangents, inputs) -> list:
    """The tangents, with zeros of the input's shape for an input that has none."""
    dtype = next(t.dtype for t in tangents if t is not None)
    return [np.zeros(x.shape, dtype=dtype) if t is None else t for t, x in zip(tangents, inputs)]


def reshape(a, shape):
    shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    return Reshape.apply(a, shape=shape)


def transpose(a, axes=None):
    return Transpose.apply(a, axes=None if axes is None else tuple(axes))


def getitem(a, index):
    if isinstance(index, list):
        index = np.asarray(index)
    if isinstance(index, np.ndarray) and index.dtype.kind == "f":
        raise DtypeError(f"getitem: index arrays must hold integers or booleans, got {index.dtype}")
    return GetItem.apply(a, index=index)


def take_rows(W, index):
    """W[index] for an integer array ``index`` (see TakeRows)."""
    index = np.asarray(index)
    if index.dtype.kind not in "iu":
        raise DtypeError(f"take_rows: index must hold integers, got {index.dtype}")
    return TakeRows.apply(W, index=index.astype(np.int64, copy=False))


def concat(tensors, axis=0):
    return Concat.apply(*tensors, axis=axis)


def stack(tensors, axis=0):
    return Stack.apply(*tensors, axis=axis)
