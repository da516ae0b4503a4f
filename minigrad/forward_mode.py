"""Forward mode: push a tangent through a computation alongside its values.

    outputs, tangents = mg.jvp(fn, primals, tangents)

computes ``outputs = fn(*primals)`` and, in the same pass, the Jacobian-vector
product J v: how the outputs move when the primals move along the tangents v,

    d/de fn(primals + e v) at e = 0.

Where backward (reverse mode) sends one gradient from the end of a graph back to
every input, forward mode sends one direction from the inputs to every output,
op by op, as the forward runs: each op's class has a tangent rule (``jvp``)
beside its ``forward`` and ``backward`` (see ``minigrad.ops.base.Function``).
Nothing is recorded for it and nothing of the past is kept: each tangent lives
exactly as long as its tensor.  That is what the online RNN strategies (RTRL,
UORO, SnAp) build on: they carry dh_t/dtheta forward instead of unrolling a window.

The two modes are transposes of each other: for any u and v,
<u, J v> (jvp) = <J^T u, v> (backward), and the tests check this for every op.
The gradient-editing nodes keep it: ``stop_gradient``'s tangent is zero and
``scale_grad(x, c)``'s is c times x's, as their backward says (not their
forward, the identity), so both modes compute the same truncated quantity.

What carries a tangent
----------------------
* Each primal that is a Tensor carries its tangent *as that very object*: a
  Parameter passed as a primal moves wherever fn uses it, also when fn reads it
  from a module rather than from its arguments
  (``mg.jvp(lambda W: cell.step(x, h), (cell.W,), (dW,))``).  An array or a
  number becomes a new constant Tensor.  The same Tensor may not be passed twice.
* Every other tensor fn uses (data, parameters not passed as primals, the
  result of ``detach()``) is a constant: its tangent is zero.
* ``no_grad()`` turns off recording on the tape, not forward mode: tangents still
  flow inside it (forward mode needs no tape).  To hold a value constant, detach it
  or pass it through ``stop_gradient``.
* Recording is unchanged: if fn uses tensors that require grad (and grad is
  enabled), the tape records its nodes as usual and the outputs can be
  backpropagated afterwards.
"""

from __future__ import annotations

import numpy as np

from .errors import DtypeError, ShapeError
from .ops.base import _forward, get_tangent, set_tangent
from .tensor import Tensor, as_tensor


def jvp(fn, primals, tangents):
    """Evaluate ``fn(*primals)`` and its directional derivative along ``tangents``.

    fn: a function of one Tensor per primal, returning a Tensor or a tuple (or
        list) of Tensors.
    primals: a tuple (or list) of Tensors, arrays or numbers, the point.
    tangents: a tuple (or list) with one tangent per primal, the direction: an
        array (or Tensor, or number for a 0-d primal) of the primal's shape, cast
        to its dtype; or None for a primal held constant (a zero tangent).

    Returns ``(outputs, output_tangents)``: what fn returned, and for each
    output the array d output = J v (zeros for an output that does not depend on
    the primals).  A tuple of outputs gives a tuple of tangents.  The tangents
    are fresh arrays; the outputs are the Tensors fn made (recorded on the tape
    as usual when they require grad).

    Raises TypeError/ValueError/ShapeError for bad arguments (naming the
    primal and both shapes), and TangentError when a tangent reaches an op whose
    class has no tangent rule.

        >>> x = mg.tensor([1.0, 2.0])
        >>> y, dy = mg.jvp(lambda x: (x * x).sum(), (x,), (np.array([1.0, 0.0]),))
        >>> float(dy)        # d/dx0 of x0^2 + x1^2 at x0 = 1
        2.0
    """
    if _forward["tangents"] is not None:
        raise RuntimeError(
            "jvp: called inside the fn of another jvp. minigrad's forward mode carries one tangent "
            "per tensor, so jvp calls do not nest (there is no higher-order forward mode); "
            "call jvp once with every primal, or one call after the other"
        )
    if not callable(fn):
        raise TypeError(f"jvp: fn must be callable, got {type(fn).__name__}")
    primals = _sequence("primals", primals)
    tangents = _sequence("tangents", tangents)
    if len(primals) != len(tangents):
        raise ValueError(
            f"jvp: {len(primals)} primal{'s' if len(primals) != 1 else ''} but {len(tangents)} "
            f"tangent{'s' if len(tangents) != 1 else ''}; pass one tangent per primal "
            "(None for a primal held constant)"
        )
    points = [p if isinstance(p, Tensor) else as_tensor(p, op="jvp") for p in primals]
    seen = {}
    for i, p in enumerate(points):
        if id(p) in seen:
            raise ValueError(
                f"jvp: primals {seen[id(p)]} and {i} are the same Tensor; a tensor carries one tangent, "
                "so pass it once (or pass a copy, mg.tensor(x.data.copy()), as the second)"
            )
        seen[id(p)] = i
    table = {}
    for i, (p, v) in enumerate(zip(points, tangents)):
        if v is not None:
            set_tangent(table, p, _tangent_for(i, p, v))

    _forward["tangents"] = table
    try:
        out = fn(*points)
        if isinstance(out, Tensor):
            return out, _output_tangent(table, out)
        if isinstance(out, (tuple, list)) and all(isinstance(o, Tensor) for o in out):
            return out, tuple(_output_tangent(table, o) for o in out)
        got = type(out).__name__
        if isinstance(out, (tuple, list)):
            got = f"a {got} holding {', '.join(sorted({type(o).__name__ for o in out}))}"
        raise TypeError(f"jvp: fn must return a Tensor or a tuple of Tensors, got {got}")
    finally:
        _forward["tangents"] = None
        table.clear()  # the entries' weak references point back at the table: break the cycle now


def _sequence(what: str, values):
    if isinstance(values, (tuple, list)):
        return values
    example = "(x,)" if what == "primals" else "(v,)"
    raise TypeError(
        f"jvp: {what} must be a tuple (or list) with one entry per argument of fn, got a "
        f"{type(values).__name__}; for a single one write {what}={example}"
    )


def _tangent_for(i: int, primal: Tensor, v) -> np.ndarray:
    """Tangent ``v`` of primal ``i`` as an array of the primal's shape and dtype, or an error saying why not."""
    v = np.asarray(v.data if isinstance(v, Tensor) else v)
    if v.dtype.kind not in "fiub":
        raise DtypeError(f"jvp: tangent {i} holds {v.dtype} values; a tangent must be real numbers")
    if v.shape != primal.shape:
        raise ShapeError(
            f"jvp: tangent {i} has shape {v.shape} but primal {i} has shape {primal.shape}; a tangent "
            "is a direction in its primal's space, so it has the primal's shape (no broadcasting)"
        )
    return v.astype(primal.dtype, copy=False)


def _output_tangent(table: dict, out: Tensor) -> np.ndarray:
    tangent = get_tangent(table, out)
    if tangent is None:
        return np.zeros(out.shape, dtype=out.dtype)
    return np.array(tangent, dtype=out.dtype, copy=True)  # never a view of an input tangent or a read-only broadcast


__all__ = ["jvp"]
