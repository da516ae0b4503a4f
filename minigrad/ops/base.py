"""The op protocol: one class per op, ``forward``, ``backward`` and ``jvp`` side by side.

An op works on plain NumPy arrays.  ``forward(ctx, *arrays)`` computes the
output and saves what the other two rules need with ``ctx.save(...)`` (``ctx``
is the tape node).  ``backward(ctx, grad)`` gets dL/d(output) and returns a
tuple with dL/d(input) for each input (reverse mode).  ``jvp(ctx, *tangents)``
gets the tangent of each input (``None`` for an input without one) and returns
the output's tangent (forward mode, ``mg.jvp``).  Both may ignore NumPy
broadcasting: this module sums a gradient back to its input's shape
(un-broadcasting) and stretches a tangent to the output's shape, once, for every op.

``Function.apply`` is the only place that wraps inputs, validates them, runs the
forward, records a node on the current tape, pushes tangents forward and checks
for anomalies; ``Function.backward_checked`` (called by the tape) is the only
place that checks what a backward returned.
"""

from __future__ import annotations

import weakref

import numpy as np

from .. import tape as _tape
from ..errors import AnomalyError, BackwardError, DtypeError, ShapeError, TangentError
from ..kernels import first_out_of_range
from ..tensor import Tensor, as_tensor

#: The tangents of the ``mg.jvp`` call that is running (None outside one):
#: id(tensor) -> (weak reference to the tensor, its tangent).  Set and cleared by
#: ``minigrad.forward_mode.jvp``; an entry goes when its tensor dies.
_forward = {"tangents": None}


class _Scratch:
    """A context that records nothing, used when no node is needed (no_grad, constants)."""

    __slots__ = ("saved", "meta")

    def __init__(self):
        self.saved = ()
        self.meta = None

    def save(self, *arrays) -> None:
        pass


class _TangentContext:
    """The context of an op that forward mode needs but the tape does not (no grad
    required, or under no_grad): it keeps what forward saves, for the tangent rule,
    and the inputs, as a tape node would; it is dropped as soon as the tangent is made."""

    __slots__ = ("saved", "meta", "inputs")

    def __init__(self, inputs):
        self.saved = ()
        self.meta = None
        self.inputs = inputs

    def save(self, *arrays) -> None:
        self.saved = arrays


class Function:
    """Base class of every op: set ``name``, define ``forward``, ``backward`` and ``jvp``.

    ``forward(ctx, *arrays, **params)`` -> the output array; ``ctx.save(...)``
    keeps arrays for the other two rules, ``ctx.meta`` small values (an axis).

    ``backward(ctx, grad)`` -> a tuple with one gradient per input: dL/d(input)
    given ``grad`` = dL/d(output), each an array of the input's shape (or of a
    shape broadcasting made from it: the engine sums it back), or ``None`` for an
    input that gets no gradient.  A single input still needs a tuple:
    ``return (grad * y,)``.  The engine checks this for every node
    (``backward_checked``) and raises BackwardError otherwise.

    ``jvp(ctx, *tangents)`` -> the output's tangent: d(output) given one
    tangent d(input) per input, ``None`` for an input that has none (a constant
    for forward mode: treat it as zero).  At least one is not ``None``.  Return
    one array of the output's shape (or one that broadcasts to it), or ``None``
    for a tangent that is exactly zero.  It reads what forward saved, from the
    same ``ctx``, and must not modify the tangents it gets.  An op without a
    ``jvp`` works in reverse mode, but ``mg.jvp`` raises TangentError when a
    tangent reaches it.

    The two rules are transposes of each other: for every u and v,
    <u, jvp(v)> = <backward(u), v>.  The docstring of each op gives all three
    formulas.
    """

    name = "op"

    @staticmethod
    def forward(ctx, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):  # pragma: no cover - abstract
        raise NotImplementedError

    @classmethod
    def jvp(cls, ctx, *tangents):
        """The tangent rule; this default says that the op has none."""
        raise TangentError(
            f"forward mode: op '{cls.name}' (class {cls.__qualname__} in {cls.__module__}) has no tangent "
            "rule. Define one beside its backward: a static method jvp(ctx, *tangents) that gets one "
            "tangent per input (None for an input without one) and returns the output's tangent, "
            "reading what forward saved with ctx.save(...)"
        )

    @classmethod
    def check(cls, *tensors, **params) -> None:
        """Validate inputs; raise ShapeError/DtypeError naming the op. Default: nothing."""

    @classmethod
    def apply(cls, *inputs, **params):
        """Run the op on ``inputs`` (Tensors, or constants that become Tensors) and return the output.

        Checks the inputs, runs ``forward`` on their arrays, and, when some input
        requires grad (and grad is enabled), records the node that ran on the
        tape; pushes tangents forward inside ``mg.jvp``.  This runs for every op,
        so it is written flat: the global state is read once, and the common case
        (a forward that returns an array, no tangents, no anomaly mode) takes no
        detour.
        """
        tensors = _as_tensors(cls.name, inputs)
        cls.check(*tensors, **params)
        state = _tape._state
        needs_grad = state["grad_enabled"] and _any_requires_grad(tensors)
        table = _forward["tangents"]
        tangents = None if table is None else _tangents_of(table, tensors)
        if needs_grad:
            tape = _tape_of(cls.name, tensors)
            ctx = _tape.Node(cls, tensors, tape)
        elif tangents is not None:
            ctx = _TangentContext(tensors)
        else:
            ctx = _Scratch()
        data = cls.forward(ctx, *[t.data for t in tensors], **params)
        if data.__class__ is not np.ndarray:
            data = np.asarray(data)  # NumPy hands back a scalar, not a 0-d array, for some 0-d results
        if state["anomaly"] and not np.all(np.isfinite(data)):
            tags = ctx.tags if needs_grad else state["tags"]
            raise AnomalyError(
                f"anomaly: '{cls.name}' produced a non-finite value (tags {tags or {}}); "
                f"input shapes {[t.shape for t in tensors]}"
            )
        out = Tensor._from_op(data, needs_grad)
        if needs_grad:
            ctx.output = weakref.ref(out)
            out._node = ctx
            tape.record(ctx)
        if tangents is not None:
            tangent = cls.jvp(ctx, *tangents)
            if tangent is not None:
                set_tangent(table, out, _fit_tangent(cls, tangent, data))
        return out

    @classmethod
    def backward_checked(cls, ctx, grad):
        """Run backward, check what it returned, and undo broadcasting so each
        gradient has its input's shape.

        The engine calls this for every node, so the common case (a tuple of
        arrays of exactly the inputs' shapes) costs a type test and a shape
        comparison per input; everything else goes through ``_fit_gradient``,
        which sums a broadcast gradient back or raises BackwardError.  (A
        broadcast gradient for an input that does not require grad, such as the
        constant in ``x * 2.0``, is checked but not summed: nobody receives it,
        so it comes back as None.)
        """
        grads = cls.backward(ctx, grad)
        inputs = ctx.inputs
        if not isinstance(grads, (tuple, list)) or len(grads) != len(inputs):
            raise BackwardError(_return_message(cls, grads, inputs))
        checked = []
        for i, g in enumerate(grads):
            if g is not None and (g.__class__ is not np.ndarray or g.shape != inputs[i].data.shape):
                g = _fit_gradient(cls, i, g, inputs[i])
            checked.append(g)
        return checked


# -- what backward and jvp return --------------------------------------------
def _op_label(cls) -> str:
    return f"op '{cls.name}' (class {cls.__qualname__} in {cls.__module__})"


def _example_return(n: int) -> str:
    names = [f"grad_{chr(ord('a') + i)}" if i < 26 else f"grad_{i}" for i in range(n)]
    return f"return ({names[0]},)" if n == 1 else f"return ({', '.join(names)})"


def _return_message(cls, grads, inputs) -> str:
    n = len(inputs)
    shapes = ", ".join(str(t.data.shape) for t in inputs)
    fix = (f"Return a tuple with one gradient per input, e.g. `{_example_return(n)}` "
           "(None for an input that gets no gradient).")
    if isinstance(grads, (tuple, list)):
        got = f"{len(grads)} gradient{'s' if len(grads) != 1 else ''}"
    elif isinstance(grads, np.ndarray):
        got = f"a bare array of shape {grads.shape}, not a tuple"
        if n == 1:
            fix += " A single input still needs the comma."
    elif grads is None:
        got = "None (did it forget to return?)"
    else:
        got = f"a {type(grads).__name__}, not a tuple"
    return (f"the backward of {_op_label(cls)} returned {got} for its {n} input{'s' if n != 1 else ''} "
            f"(shape{'s' if n != 1 else ''} {shapes}). {fix}")


def _fit_gradient(cls, i: int, g, tensor):
    """Gradient ``g`` for input ``i``, ``tensor``: as it is, summed back over the axes
    broadcasting added or stretched (None if the tensor does not require grad), or a
    BackwardError naming op, input and shapes."""
    shape = tensor.data.shape
    if isinstance(g, np.generic) and shape == () and np.ndim(g) == 0:
        return np.asarray(g)  # NumPy hands back a scalar for 0-d arithmetic: fine for a 0-d input
    if not isinstance(g, np.ndarray):
        hint = " (a Tensor: return its .data)" if isinstance(g, Tensor) else ""
        raise BackwardError(
            f"the backward of {_op_label(cls)} returned a {type(g).__name__}{hint} as the gradient of "
            f"input {i} (shape {shape}); each gradient must be a NumPy array of the input's shape, "
            "or None for no gradient"
        )
    if g.shape == shape:
        return g  # an ndarray subclass
    if not _broadcasts_to(shape, g.shape):
        raise BackwardError(
            f"the backward of {_op_label(cls)} returned a gradient of shape {g.shape} for input {i} of "
            f"shape {shape}; each gradient must have its input's shape (or a shape broadcasting made "
            "from it, which the engine sums back)"
        )
    return unbroadcast(g, shape) if tensor.requires_grad else None


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    """True when NumPy broadcasting stretches ``shape`` to ``target`` (a plain loop:
    ``np.broadcast_shapes`` costs microseconds, and this runs for every broadcast node)."""
    extra = len(target) - len(shape)
    if extra < 0:
        return False
    for n, m in zip(shape, target[extra:]):
        if n != m and n != 1:
            return False
    return True


def _fit_tangent(cls, tangent, data: np.ndarray) -> np.ndarray:
    """The tangent a rule returned, as an array of the output's shape and dtype
    (stretched if it broadcasts to it), or a TangentError naming the op and shapes."""
    if tangent.__class__ is not np.ndarray or tangent.shape != data.shape:
        if isinstance(tangent, np.generic) and np.ndim(tangent) == 0:
            tangent = np.asarray(tangent)
        if not isinstance(tangent, np.ndarray):
            kind = f"a {type(tangent).__name__}"
            if isinstance(tangent, (tuple, list)):
                kind += " (a tangent rule returns one array, the output's tangent)"
            raise TangentError(
                f"forward mode: the tangent rule of {_op_label(cls)} returned {kind}; it must return "
                f"a NumPy array of the output's shape {data.shape}, or None for a zero tangent"
            )
        if tangent.shape != data.shape:
            try:
                tangent = np.broadcast_to(tangent, data.shape)
            except ValueError:
                raise TangentError(
                    f"forward mode: the tangent rule of {_op_label(cls)} returned a tangent of shape "
                    f"{tangent.shape} for an output of shape {data.shape}; it must have the output's shape "
                    "(or one that broadcasts to it)"
                ) from None
    if tangent.dtype != data.dtype:
        tangent = tangent.astype(data.dtype)
    if _tape._state["anomaly"] and not np.all(np.isfinite(tangent)):
        raise AnomalyError(
            f"anomaly: the tangent rule of '{cls.name}' produced a non-finite tangent "
            f"(tags {_tape._state['tags'] or {}}) for an output of shape {data.shape}"
        )
    return tangent


# -- forward mode: the tangent table -------------------------------------------
def _tangents_of(table: dict, tensors):
    """One tangent per input (None for an input without one), or None when no input has one."""
    found = None
    for i, t in enumerate(tensors):
        entry = table.get(id(t))
        if entry is not None:
            if found is None:
                found = [None] * len(tensors)
            found[i] = entry[1]
    return found


def set_tangent(table: dict, tensor, tangent: np.ndarray) -> None:
    """Give ``tensor`` a tangent in ``table`` for as long as the tensor lives.

    Keyed by ``id(tensor)``, not by the tensor (which would keep it alive), with a
    weak reference whose callback removes the entry when the tensor dies (a
    WeakKeyDictionary would compare tensors with their element-wise ``==``):
    forward mode holds no tensor alive, so a long sequence run under ``mg.jvp``
    keeps only the tangents of the tensors still in use.
    """
    key = id(tensor)

    def forget(ref):
        entry = table.get(key)
        if entry is not None and entry[0] is ref:
            del table[key]

    table[key] = (weakref.ref(tensor, forget), tangent)


def get_tangent(table: dict, tensor):
    """The tangent ``tensor`` has in ``table``, or None."""
    entry = table.get(id(tensor))
    return None if entry is None else entry[1]


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
