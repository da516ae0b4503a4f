"""The op protocol: one class per op, ``forward(ctx, *arrays)`` and ``backward(ctx, grad)``.

An op works on plain NumPy arrays.  ``forward`` computes the output and saves
what its backward needs with ``ctx.save(...)`` (``ctx`` is the tape node);
``backward`` gets dL/d(output) and returns dL/d(input) for each input, as if
no broadcasting had happened.  Undoing NumPy broadcasting (summing the gradient
over the axes an input was stretched along) is done here, once, for every op.

``Function.apply`` is the only place that wraps inputs, validates them, runs the
forward, records a node on the current tape and checks for anomalies.
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import tape as _tape
from ..errors import AnomalyError, DtypeError, ShapeError
from ..kernels import first_out_of_range
from ..tensor import Tensor, as_tensor


class _Scratch:
    """A context that records nothing, used when no node is needed (no_grad, constants)."""

    __slots__ = ("saved", "meta")

    def __init__(self):
        self.saved = ()
        self.meta = None

    def save(self, *arrays) -> None:
        pass


class Function:
    """Base class of every op. Subclasses set ``name`` and define forward/backward."""

    name = "op"

    @staticmethod
    def forward(ctx, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def check(cls, *tensors, **params) -> None:
        """Validate inputs; raise ShapeError/DtypeError naming the op. Default: nothing."""

    @classmethod
    def apply(cls, *inputs, **params):
        tensors = _as_tensors(cls.name, inputs)
        cls.check(*tensors, **params)
        needs_grad = _tape._state["grad_enabled"] and _any_requires_grad(tensors)
        if needs_grad:
            tape = _tape_of(cls.name, tensors)
            ctx = _tape.Node(cls, tensors, tape)
        else:
            ctx = _Scratch()
        # NumPy hands back a scalar, not a 0-d array, for some 0-d results: wrap it
        data = np.asarray(cls.forward(ctx, *[t.data for t in tensors], **params))
        if _tape._state["anomaly"] and not np.all(np.isfinite(data)):
            tags = ctx.tags if needs_grad else _tape._state["tags"]
            raise AnomalyError(
                f"anomaly: '{cls.name}' produced a non-finite value (tags {tags or {}}); "
                f"input shapes {[t.shape for t in tensors]}"
            )
        out = Tensor._from_op(data, needs_grad)
        if needs_grad:
            ctx.output = weakref.ref(out)
            out._node = ctx
            tape.record(ctx)
        return out

    @classmethod
    def backward_checked(cls, ctx, grad):
        """Run backward and undo broadcasting so each gradient has its input's shape."""
        grads = cls.backward(ctx, grad)
        return [g if g is None or g.shape == t.data.shape else unbroadcast(g, t.shape)
                for g, t in zip(grads, ctx.inputs)]


def _as_tensors(op: str, inputs) -> tuple:
    """The inputs as tensors: Tensors as they are, anything else as a constant.

    A Python number takes the dtype of the first Tensor input, so ``x32 * 2.0``
    stays float32.  (Written as plain loops: this runs for every op.)
    """
    first, constants = None, False
    for x in inputs:
        if not isinstance(x, Tensor):
            constants = True
        elif first is None:
            first = x
    if not constants:
        return inputs  # the common case
    like = None if first is None else first.data.dtype
    return tuple([x if isinstance(x, Tensor) else as_tensor(x, like=like, op=op) for x in inputs])


def _any_requires_grad(tensors) -> bool:
    for t in tensors:
        if t.requires_grad:
            return True
    return False


def _tape_of(op: str, tensors):
    """The tape a new node belongs on: its inputs' tape (a graph lives on one tape),
    or the current tape when every input is a leaf."""
    tape = None
    for t in tensors:
        if t._node is None:
            continue
        if tape is None:
            tape = t._node.tape
        elif t._node.tape is not tape:
            raise ValueError(
                f"{op}: the inputs were recorded on two different tapes, which cannot be joined; "
                "detach() one of them first"
            )
    return tape if tape is not None else _tape.current_tape()


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes NumPy broadcasting added or stretched to reach ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def broadcast_shape(op: str, *tensors) -> tuple:
    """The broadcast shape of the inputs, or a ShapeError naming the op and shapes."""
    shapes = [t.shape for t in tensors]
    if shapes.count(shapes[0]) == len(shapes):  # the common case, without NumPy's general (slower) rule
        return shapes[0]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        shapes = " and ".join(str(t.shape) for t in tensors)
        raise ShapeError(f"{op}: shapes {shapes} cannot be broadcast together") from None


def out_of_range(values: np.ndarray, low: int, high: int):
    """The first of the integers ``values`` outside [low, high), or None when all lie inside."""
    flat = np.ascontiguousarray(values).reshape(-1)
    n = first_out_of_range(flat, low, high)
    return None if n < 0 else flat[n]


def check_axis(op: str, axis, ndim: int) -> None:
    """Raise a ShapeError naming the op when an axis is out of range for ``ndim`` dims."""
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in axes:
        if a is None:
            continue
        if not isinstance(a, (int, np.integer)):
            raise DtypeError(f"{op}: axis must be an int or a tuple of ints, got {a!r}")
        if not -ndim <= a < max(ndim, 1):
            raise ShapeError(f"{op}: axis {a} is out of range for a tensor with {ndim} dimensions")
