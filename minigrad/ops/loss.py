"""Softmax, log-softmax and the two losses: cross-entropy from logits, and mse.

All are computed in the numerically stable way: the maximum is subtracted
before exponentiating, so logits of 1e4 give finite values and gradients.
Targets that mark "no target here" are skipped: class -1 for cross-entropy,
NaN for mse (the sequence tasks use them for steps without a label).
"""

import numpy as np

from ..errors import DtypeError, ShapeError
from ..kernels.losses import softmax_cross_entropy, softmax_cross_entropy_backward, softmax_cross_entropy_tangent
from ..tensor import Tensor
from .base import Function, check_axis, out_of_range

REDUCTIONS = ("mean", "sum")


def _check_reduction(op, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _stable_softmax(a, axis):
    shifted = a - a.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True), shifted, e


class Softmax(Function):
    """y = e^a / sum e^a along axis;  dL/da = y * (g - sum(g * y)).

    Tangent: dy = y * (da - sum(da * y)): the Jacobian diag(y) - y y^T is
    symmetric, so the tangent rule is the backward's formula.
    """

    name = "softmax"

    @classmethod
    def check(cls, a, axis):
        check_axis(cls.name, axis, a.ndim)

    @staticmethod
    def forward(ctx, a, axis):
        y, _, _ = _stable_softmax(a, axis)
        ctx.save(y)
        ctx.meta = axis
        return y

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved
        return (y * (grad - (grad * y).sum(axis=ctx.meta, keepdims=True)),)

    @staticmethod
    def jvp(ctx, da):
        (y,) = ctx.saved
        return y * (da - (da * y).sum(axis=ctx.meta, keepdims=True))


class LogSoftmax(Function):
    """y = a - logsumexp(a) along axis;  dL/da = g - softmax(a) * sum(g).

    Tangent: dy = da - sum(softmax(a) * da)  (the Jacobian I - 1 p^T, not symmetric).
    """

    name = "log_softmax"

    @classmethod
    def check(cls, a, axis):
        check_axis(cls.name, axis, a.ndim)

    @staticmethod
    def forward(ctx, a, axis):
        probs, shifted, e = _stable_softmax(a, axis)
        ctx.save(probs)
        ctx.meta = axis
        return shifted - np.log(e.sum(axis=axis, keepdims=True))

    @staticmethod
    def backward(ctx, grad):
        (probs,) = ctx.saved
        return (grad - probs * grad.sum(axis=ctx.meta, keepdims=True),)

    @staticmethod
    def jvp(ctx, da):
        (probs,) = ctx.saved
        return da - (probs * da).sum(axis=ctx.meta, keepdims=True)


class CrossEntropy(Function):
    """L = sum (or mean) over rows of -log softmax(logits)[target].

    dL/dlogits = softmax(logits) - onehot(target), per row, times dL/dL_row.
    Tangent: dL = sum (or mean) over rows of softmax(logits) . dlogits - dlogits[target].
    Rows whose target is -1 count for nothing (and not in the mean's count).
    All three run as numba kernels over the rows (``kernels/losses.py``; the
    forward's exponential is NumPy's vectorised ``np.exp`` between two of them).
    """

    name = "cross_entropy"

    @classmethod
    def check(cls, logits, targets, reduction):
        _check_reduction(cls.name, reduction)
        if logits.ndim == 0:
            raise ShapeError("cross_entropy: logits must have a class axis (last), got a scalar")
        if targets.shape != logits.shape[:-1]:
            raise ShapeError(
                f"cross_entropy: targets of shape {targets.shape} do not match logits of shape "
                f"{logits.shape} (expected targets of shape {logits.shape[:-1]})"
            )
        n_classes = logits.shape[-1]
        bad = out_of_range(targets, -1, n_classes)
        if bad is not None:
            raise ValueError(f"cross_entropy: target {bad} is out of range for {n_classes} classes (use -1 for 'no target')")

    @staticmethod
    def forward(ctx, logits, targets, reduction):
        rows = np.ascontiguousarray(logits.reshape(-1, logits.shape[-1]))
        flat_targets = targets.reshape(-1)
        loss_rows, probs = softmax_cross_entropy(rows, flat_targets)
        count = max(int((flat_targets >= 0).sum()), 1) if reduction == "mean" else 1
        ctx.save(probs)
        ctx.meta = (flat_targets, count)
        return np.asarray(np.add.reduce(loss_rows) / count, dtype=logits.dtype)  # add.reduce: sum() without its wrapper

    @staticmethod
    def backward(ctx, grad):
        (probs,) = ctx.saved
        targets, count = ctx.meta
        grad_rows = np.empty(probs.shape[0], dtype=probs.dtype)
        grad_rows.fill(grad / count)  # every row weighs the same (np.full: the same, in a slower wrapper)
        dlogits = softmax_cross_entropy_backward(probs, targets, grad_rows)
        return (dlogits.reshape(ctx.inputs[0].shape),)

    @staticmethod
    def jvp(ctx, dlogits):
        (probs,) = ctx.saved
        targets, count = ctx.meta
        rows = np.ascontiguousarray(dlogits, dtype=probs.dtype).reshape(probs.shape)
        per_row = softmax_cross_entropy_tangent(probs, targets, rows)
        return np.asarray(np.add.reduce(per_row) / count, dtype=probs.dtype)


class MSE(Function):
    """L = sum (or mean) of (pred - target)^2 over entries whose target is not NaN.

    dL/dpred = 2 (pred - target) / n,  dL/dtarget = -dL/dpred  (n = 1 for sum).
    Tangent: dL = 2 sum((pred - target) * (dpred - dtarget)) / n, over the same entries.
    """

    name = "mse"

    @classmethod
    def check(cls, pred, target, reduction):
        _check_reduction(cls.name, reduction)
        if pred.shape != target.shape:
            raise ShapeError(
                f"mse: prediction of shape {pred.shape} and target of shape {target.shape} differ "
                "(losses do not broadcast; reshape one of them)"
            )

    @staticmethod
    def forward(ctx, pred, target, reduction):
        has_target = ~np.isnan(target)
        diff = np.where(has_target, pred - np.where(has_target, target, 0), 0)
        count = max(int(has_target.sum()), 1) if reduction == "mean" else 1
        ctx.save(diff)
        ctx.meta = count
        return np.asarray((diff * diff).sum() / count, dtype=diff.dtype)

    @staticmethod
    def backward(ctx, grad):
        (diff,) = ctx.saved
        g = 2.0 * grad / ctx.meta * diff
        return g, -g

    @staticmethod
    def jvp(ctx, dpred, dtarget):
        (diff,) = ctx.saved  # 0 where the target is NaN: those entries drop out here too
        if dtarget is None:
            change = dpred
        else:
            change = -dtarget if dpred is None else dpred - dtarget
        return np.asarray(2.0 * np.sum(diff * change) / ctx.meta, dtype=diff.dtype)


def softmax(a, axis=-1):
    return Softmax.apply(a, axis=axis)


def log_softmax(a, axis=-1):
    return LogSoftmax.apply(a, axis=axis)


def cross_entropy(logits, targets, reduction="mean"):
    """Cross-entropy of integer ``targets`` (class indices, -1 = none) under ``logits``."""
    # (isinstance, not hasattr(targets, "data"): an ndarray has .data too, its raw buffer)
    targets = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if targets.dtype.kind not in "iu":
        raise DtypeError(f"cross_entropy: targets must be integer class indices, got dtype {targets.dtype}")
    return CrossEntropy.apply(logits, targets=targets.astype(np.int64, copy=False), reduction=reduction)


def mse(pred, target, reduction="mean"):
    """Squared error of ``pred`` against ``target`` (same shape; NaN targets are skipped)."""
    return MSE.apply(pred, target, reduction=reduction)
