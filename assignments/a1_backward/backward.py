"""Assignment 1: the backward passes of engine ops.

Every op of minigrad is a small class with two static methods:

    forward(ctx, *arrays)  computes the output from NumPy arrays and saves what
                           the backward will need (ctx.save(...), ctx.meta = ...)
    backward(ctx, grad)    receives grad = dL/d(output) and returns dL/d(input),
                           one array per input, in the order of the inputs

``Op.apply(a, b)`` runs the forward on tensors and records a node on the tape,
so ``loss.backward()`` calls *your* backward.  The forwards below are written;
you write the backwards.

Broadcasting.  a + b works for a of shape (3, 4) and b of shape (4,): NumPy
stretches b to (3, 4).  The gradient that arrives is (3, 4), but b's gradient
must have b's shape: the entries b was copied to are summed back.  The engine
would quietly do that for you after your backward; here your backward must
return gradients that already have its inputs' shapes (the tests call it
directly and check), using your ``unbroadcast``.

Run the tests of one task with ``pytest -m task1_2`` in this folder.
"""

import numpy as np

from minigrad.errors import ShapeError
from minigrad.ops import Function


def unbroadcast(grad, shape):
    """Sum ``grad`` back to ``shape``: the inverse of NumPy broadcasting ``shape`` up to ``grad.shape``.

    Broadcasting does two things, so there are two kinds of axes to sum over:
    axes it added in front (shape (4,) -> (3, 4): sum over axis 0), and axes
    of length 1 it stretched (shape (3, 1) -> (3, 4): sum over axis 1, keeping it).
    unbroadcast(np.ones((2, 3, 4)), (3, 1)) is an array of shape (3, 1) full of 8.
    """
    # Hint: first sum over the grad.ndim - len(shape) leading axes, then over the
    # axes where shape has a 1 and grad does not (keepdims=True keeps them).
    # BEGIN SOLUTION task1_1
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(axis for axis, n in enumerate(shape) if n == 1 and grad.shape[axis] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)
    # END SOLUTION


class Add(Function):
    """z = a + b, with broadcasting."""

    name = "add"

    @classmethod
    def check(cls, a, b):
        _check_broadcast(cls.name, a, b)

    @staticmethod
    def forward(ctx, a, b):
        ctx.meta = (a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.meta
        # Hint: dz/da = dz/db = 1, then give each gradient its input's shape back.
        # BEGIN SOLUTION task1_2
        return unbroadcast(grad, a_shape), unbroadcast(grad, b_shape)
        # END SOLUTION


class Mul(Function):
    """z = a * b, element-wise, with broadcasting."""

    name = "mul"

    @classmethod
    def check(cls, a, b):
        _check_broadcast(cls.name, a, b)

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        # Hint: dz/da = b and dz/db = a (element-wise); multiply by grad, then un-broadcast.
        # BEGIN SOLUTION task1_2
        return unbroadcast(grad * b, a.shape), unbroadcast(grad * a, b.shape)
        # END SOLUTION


class Exp(Function):
    """y = e^a, element-wise."""

    name = "exp"

    @staticmethod
    def forward(ctx, a):
        y = np.exp(a)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved
        # Hint: the derivative of e^a is e^a itself, which the forward saved.
        # BEGIN SOLUTION task1_3
        return (grad * y,)
        # END SOLUTION


class Tanh(Function):
    """y = tanh a, element-wise."""

    name = "tanh"

    @staticmethod
    def forward(ctx, a):
        y = np.tanh(a)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved
        # Hint: tanh'(a) = 1 - tanh(a)^2; write it through the saved output y.
        # BEGIN SOLUTION task1_3
        return (grad * (1.0 - y * y),)
        # END SOLUTION


class MatMul(Function):
    """z = a @ b for matrices: a of shape (m, k), b of shape (k, n), z of shape (m, n)."""

    name = "matmul"

    @classmethod
    def check(cls, a, b):
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
            raise ShapeError(f"matmul: needs matrices (m, k) and (k, n), got shapes {a.shape} and {b.shape}")

    @staticmethod
    def forward(ctx, a, b):
        ctx.save(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        # Hint: z_ij = sum_k a_ik b_kj.  Check the shapes: dL/da must be (m, k), dL/db (k, n).
        # BEGIN SOLUTION task1_4
        return grad @ b.T, a.T @ grad
        # END SOLUTION


class Sum(Function):
    """z = the sum of a over ``axis`` (None: every axis; an int; or a tuple of ints), keeping the
    summed axes as length 1 when ``keepdims``."""

    name = "sum"

    @staticmethod
    def forward(ctx, a, axis, keepdims):
        ctx.meta = (a.shape, axis, keepdims)
        return np.asarray(a.sum(axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, grad):
        shape, axis, keepdims = ctx.meta
        # Hint: every summed element gets the gradient of its sum.  Without keepdims the summed
        # axes are gone from grad: put them back as length 1 (np.expand_dims; mind negative axes),
        # then broadcast to the input's shape (np.broadcast_to).
        # BEGIN SOLUTION task1_5
        if axis is None:
            axes = tuple(range(len(shape)))
        else:
            axes = tuple(a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,)))
        if not keepdims:
            grad = np.expand_dims(grad, axes)
        return (np.broadcast_to(grad, shape).copy(),)
        # END SOLUTION


class SoftmaxCrossEntropy(Function):
    """L = mean over the rows of -log softmax(logits)[target].

    logits: (N, C) scores of C classes for N examples; targets: N class indices
    (a parameter, not an input: it gets no gradient).  softmax(z)_c = e^z_c / sum_j e^z_j.
    """

    name = "softmax_cross_entropy"

    @classmethod
    def check(cls, logits, targets):
        if logits.ndim != 2 or np.shape(targets) != logits.shape[:1]:
            raise ShapeError(
                f"softmax_cross_entropy: needs logits (N, C) and N targets, got {logits.shape} and {np.shape(targets)}"
            )

    @staticmethod
    def forward(ctx, logits, targets):
        shifted = logits - logits.max(axis=1, keepdims=True)  # the same softmax, without overflow
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        ctx.save(np.exp(log_probs))
        ctx.meta = targets
        return np.asarray(-log_probs[np.arange(len(targets)), targets].mean())

    @staticmethod
    def backward(ctx, grad):
        (probs,) = ctx.saved
        targets = ctx.meta
        # Hint: for one row, dL_row/dlogits = softmax(logits) - onehot(target).
        # The loss is the mean of N rows, and grad (a 0-d array) is dL_total/dL.
        # BEGIN SOLUTION task1_6
        dlogits = probs.copy()
        dlogits[np.arange(len(targets)), targets] -= 1.0
        return (dlogits * (grad / len(targets)),)
        # END SOLUTION


def _check_broadcast(op, a, b):
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together") from None


def add(a, b):
    return Add.apply(a, b)


def mul(a, b):
    return Mul.apply(a, b)


def exp(a):
    return Exp.apply(a)


def tanh(a):
    return Tanh.apply(a)


def matmul(a, b):
    return MatMul.apply(a, b)


def sum_over(a, axis=None, keepdims=False):
    """The sum of ``a`` over ``axis`` (a list of axes is taken as a tuple); named so as not to hide Python's sum."""
    return Sum.apply(a, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)


def softmax_cross_entropy(logits, targets):
    """The mean cross-entropy of integer class ``targets`` under ``logits`` (N, C)."""
    return SoftmaxCrossEntropy.apply(logits, targets=np.asarray(targets, dtype=np.int64))
