"""The fused Elman recurrence: one node, ``ElmanScan``, with the one hand-written backward.

A per-op cell records about five nodes per step (two products, an add, f, the
readout); each costs microseconds of Python, which for small hidden sizes is
more than the arithmetic.  ``ElmanScan`` records the recurrence

    h_t = f(A h_{t-1} + B x_t [+ b]),   t = 1..L

of a whole segment as one node, with B x_t [+ b] computed for the segment
first, as one matrix product (one row lookup for token indices).  The
truncation plan's edge factors for the segment go into the node: its
backward multiplies dL/dh_{t-1} by the factor of the edge into step t (1
passes, 0 cuts, c scales), exactly as the stop-gradient and scale-gradient
nodes of the per-step graph would.

One-hot inputs given as an array run as the token indices they spell
(``one_hot_as_indices``: an exact test, and only where the product is large
enough for the lookup to pay): the same states, and the same gradients up to
the rounding of another summation order.

One step is the same node with L = 1 and factor 1 (``elman_step``:
``one_step=True`` drops the time axis), so ``ElmanRNN.step`` and the
driver's segments record the same kind of node, and a drawing of either
shows what training ran.  The per-op cell (``ElmanRNN(fused=False)``)
records every product and activation as its own node: it is the lesson's
view, and the tests hold this node to its gradients.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import minigrad as mg
from minigrad.errors import ShapeError
from minigrad.kernels import (
    IDENTITY,
    TANH,
    activation_backward,
    activation_forward,
    elman_scan_backward,
    elman_scan_forward,
    rnn_step_delta,
    tanh_rational,
)
from minigrad.kernels.rnn import one_hot_positions
from minigrad.ops import Function
from minigrad.ops.base import out_of_range
from minigrad.ops.shape import rows_gradient


def holds_indices(x) -> bool:
    """Integer inputs (an array, or one step's index) are token indices, not features."""
    return not isinstance(x, mg.Tensor) and np.asarray(x).dtype.kind in "iu"


class ScanMeta(NamedTuple):
    """What an ``elman_scan`` node keeps besides its arrays (``node.meta``)."""

    factors: np.ndarray  #: factors[t-1]: the plan's factor on the edge h_{t-1} -> h_t
    code: int  #: the activation f, as in ``minigrad.kernels.ACTIVATION_CODES``
    one_step: bool  #: a single step, without a time axis (``elman_step``)
    has_bias: bool  #: b is an input
    xs_input: bool  #: xs is the last input (a Tensor that wants its gradient), not data
    p_lead: tuple  #: the batch axes of B x_t, which may be fewer than the states'


class ElmanScan(Function):
    """h_t = f(A h_{t-1} + B x_t [+ b]) for t = 1..L as one node, whose output stacks h_1..h_L.

    Inputs: A (H, H), B (H, n_in), the initial state h_0 (..., H) [, b (H,)]
    [, xs].  ``xs``: the segment's inputs, (L, ..., n_in) vectors as the last
    input (``xs=None``; dL/dxs when it requires grad, its tangent in forward
    mode), or (L, ...) token indices as data (keyword ``xs=``; B x_t is then
    column x_t of B).  The batch axes of h_0 and x_t broadcast against each
    other.  ``factors[t-1]``: the plan's factor on the edge h_{t-1} -> h_t.
    ``code``: f, as in ``minigrad.kernels.ACTIVATION_CODES``.
    ``one_step=True``: xs is one step's input (no time axis), the output h_1.

    Tangent (forward mode, ``jvp``): the recurrence of the tangents, oldest
    step first, with the same factors on the edges (see ``jvp``).

    Forward: p_t = B x_t [+ b] for every step at once (one product, or one
    row lookup of B^T for indices), then the recurrence h_t = f(A h_{t-1} + p_t).
    Backward, from the newest step to the oldest, with g_t = dL/dh_t (the
    gradient arriving at the output plus what step t+1 sends back):

        delta_t     = g_t * f'(.)              (through the saved h_t)
        dL/dh_{t-1} = factor_t * delta_t A      (0: cut, nothing flows)
        dL/dA       = sum_t delta_t^T h_{t-1}   (one product over the stacked segment)
        dL/dB       = sum_t delta_t^T x_t       (one product; a scatter for indices)
        dL/db       = sum_t delta_t
        dL/dx_t     = delta_t B                 (only when xs is an input)

    The states live in one buffer, the *path* h_0, h_1..h_L: the output is its
    view path[1:], and dL/dA multiplies the deltas by the view path[:-1].
    Small recurrences run as one numba loop each way (``minigrad.kernels``),
    larger ones as one BLAS product per step; both compute the same sums.
    """

    name = "elman_scan"

    @classmethod
    def check(cls, A, B, h0, *rest, xs=None, factors, code, one_step=False):
        if xs is None:
            rest, xs = rest[:-1], rest[-1].data
        A_shape, B_shape, h_shape = A.shape, B.shape, h0.shape
        H = A_shape[0] if len(A_shape) == 2 else -1
        if (A_shape != (H, H) or len(B_shape) != 2 or B_shape[0] != H or not h_shape or h_shape[-1] != H
                or (rest and rest[0].shape != (H,))):
            bias = f", b {rest[0].shape}" if rest else ""
            raise ShapeError(f"elman_scan: A {A_shape}, B {B_shape}, h0 {h_shape}{bias} do not fit; they must "
                             "be A (H, H), B (H, n_in), h0 (..., H) and b (H,)")
        n_in, time = B_shape[1], 0 if one_step else 1
        if xs.dtype.kind in "iu":
            bad = out_of_range(xs, 0, n_in)
            if bad is not None:
                raise ValueError(f"elman_scan: token index {bad} is out of range for {n_in} inputs")
            x_lead = xs.shape[time:]
        elif xs.ndim < 1 + time or xs.shape[-1] != n_in:
            raise ShapeError(f"elman_scan: xs of shape {xs.shape} does not hold vectors of the {n_in} inputs B takes")
        else:
            x_lead = xs.shape[time:-1]
        if x_lead != h_shape[:-1]:
            try:
                np.broadcast_shapes(x_lead, h_shape[:-1])
            except ValueError:
                raise ShapeError(f"elman_scan: the batch axes of xs {xs.shape} and h0 {h_shape} "
                                 "cannot be broadcast together") from None
        steps = 1 if one_step else len(xs)
        if len(factors) != steps:
            raise ShapeError(f"elman_scan: {len(factors)} edge factors for a segment of {steps} steps")

    @staticmethod
    def forward(ctx, A, B, h0, *rest, xs=None, factors, code, one_step=False):
        xs_input = xs is None
        if xs_input:
            rest, xs = rest[:-1], rest[-1]
        if one_step:
            xs = xs[None]
        p = _input_projection(B, xs)  # fresh and contiguous: (L, ..., H)
        if rest:
            p += rest[0]
        L, H = p.shape[0], p.shape[-1]
        p_lead, h_lead = p.shape[1:-1], h0.shape[:-1]
        lead = p_lead if p_lead == h_lead else np.broadcast_shapes(p_lead, h_lead)
        dtype = p.dtype
        if dtype != h0.dtype or dtype != A.dtype:
            dtype = np.result_type(p, h0, A)
        path = np.empty((L + 1,) + lead + (H,), dtype=dtype)
        path[0] = h0
        if p_lead != lead:  # batch axes of p to broadcast, after the time axis
            p = np.broadcast_to(p.reshape((L,) + (1,) * (len(lead) - len(p_lead)) + p.shape[1:]), path[1:].shape)
            p = np.ascontiguousarray(p, dtype=dtype)
        elif p.dtype != dtype:
            p = p.astype(dtype)
        if _is_small(path, A):  # the kernels see every step as (rows, H): R = 1 without a batch
            elman_scan_forward(np.ascontiguousarray(A.T, dtype=path.dtype), p.reshape(L, -1, H), code,
                               path.reshape(L + 1, -1, H))
        else:
            _forward_by_steps(A, p, code, path)
        ctx.save(A, B, path, xs)
        ctx.meta = ScanMeta(np.asarray(factors, dtype=path.dtype), code, one_step, bool(rest), xs_input, p_lead)
        return path[1] if one_step else path[1:]

    @staticmethod
    def backward(ctx, grad):
        A, B, path, xs = ctx.saved
        meta = ctx.meta
        L, H = path.shape[0] - 1, path.shape[-1]
        grad = np.ascontiguousarray(grad[None] if meta.one_step else grad, dtype=path.dtype)
        deltas = np.empty_like(grad)
        if _is_small(path, A):
            carried = elman_scan_backward(np.ascontiguousarray(A, dtype=path.dtype), path.reshape(L + 1, -1, H),
                                          grad.reshape(L, -1, H), meta.factors, meta.code, deltas.reshape(L, -1, H))
            dh0 = carried.reshape(path.shape[1:])
        else:
            dh0 = _backward_by_steps(A, path, grad, meta.factors, meta.code, deltas)
        dA = deltas.reshape(-1, H).T @ path[:-1].reshape(-1, H)
        rows = _sum_to_lead(deltas, meta.p_lead).reshape(-1, H)  # dL/dp_t, one row per example and step
        grads = (dA, _input_weight_grad(rows, xs, B.shape), dh0)
        if meta.has_bias:
            grads += (rows.sum(axis=0),)
        if meta.xs_input:
            dxs = (rows @ B).reshape(xs.shape) if ctx.inputs[-1].requires_grad else None
            grads += (dxs if dxs is None or not meta.one_step else dxs[0],)
        return grads

    @staticmethod
    def jvp(ctx, dA, dB, dh0, *rest):
        """The tangent of h_1..h_L from the inputs' tangents (None: held constant), oldest step first:

            dp_t = dB x_t + B dx_t + db
            dh_t = f'(.) * (factor_t A dh_{t-1} + dA h_{t-1} + dp_t),   dh_0 = the tangent of h_0

        The factor follows the backward (as scale_grad's tangent does), so the two
        rules stay transposes of each other."""
        A, B, path, xs = ctx.saved
        meta = ctx.meta
        db = rest[0] if meta.has_bias else None
        dxs = rest[-1] if meta.xs_input else None
        L, H = path.shape[0] - 1, path.shape[-1]
        given = [t for t in (dA, dB, dh0, db, dxs) if t is not None]
        dp = np.zeros((L,) + meta.p_lead + (H,), dtype=np.result_type(path, *given))
        if dB is not None:
            dp += _input_projection(dB, xs)
        if dxs is not None:
            dp += _input_projection(B, dxs[None] if meta.one_step else dxs)
        if db is not None:
            dp += db
        dh = None if dh0 is None else np.broadcast_to(dh0, path.shape[1:])
        out = np.empty((L,) + path.shape[1:], dtype=dp.dtype)
        for t in range(L):
            z = np.broadcast_to(dp[t], path.shape[1:]) + 0.0  # a fresh array of the states' shape
            if dA is not None:
                z += path[t] @ dA.T
            if dh is not None and meta.factors[t] != 0.0:
                z += meta.factors[t] * (dh @ A.T)
            activation_backward(path[t + 1].reshape(-1), z.reshape(-1), meta.code, out[t].reshape(-1))
            dh = out[t]
        return out[0] if meta.one_step else out


def _input_projection(B: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """B x_t for every step, as a fresh array of shape xs.shape[:-1] + (H,) (indices: xs.shape + (H,))."""
    if xs.dtype.kind in "iu":
        return np.ascontiguousarray(B.T)[xs]  # a contiguous B^T: its rows are read whole
    return (xs.reshape(-1, B.shape[1]) @ B.T).reshape(xs.shape[:-1] + B.shape[:1])


def _input_weight_grad(rows: np.ndarray, xs: np.ndarray, B_shape: tuple) -> np.ndarray:
    """dL/dB = sum over rows of delta x^T; for indices, each delta row added into column x of B."""
    if xs.dtype.kind in "iu":
        return rows_gradient(B_shape[::-1], xs, rows).T  # the lookup read rows of B^T
    return rows.T @ xs.reshape(-1, B_shape[1])


def _sum_to_lead(deltas: np.ndarray, p_lead: tuple) -> np.ndarray:
    """deltas (L, *lead, H) summed over the batch axes along which p (L, *p_lead, H) was broadcast.

    (The engine's un-broadcasting would sum the leading axis, here time.)"""
    lead = deltas.shape[1:-1]
    if lead == p_lead:
        return deltas
    extra = len(lead) - len(p_lead)
    summed = deltas.sum(axis=tuple(range(1, 1 + extra))) if extra else deltas
    stretched = tuple(1 + i for i, n in enumerate(p_lead) if n == 1 and summed.shape[1 + i] != 1)
    return summed.sum(axis=stretched, keepdims=True) if stretched else summed


def _activate(z: np.ndarray, code: int, out: np.ndarray) -> None:
    """out = f(z), for z and out of the same shape that do not overlap.

    tanh: in float32 the rational tanh of the kernels, the function the small
    path computes (vectorised, three to four times faster than NumPy's; the compiler
    vectorises it only when ``out`` does not overlap ``z``: in place it ran
    at a third of the speed); in float64 NumPy's, which beats a numba loop
    calling the C library's tanh per element."""
    if code == TANH and z.dtype == np.float32:
        tanh_rational(z.reshape(-1), out.reshape(-1))
    elif code == TANH:
        np.tanh(z, out=out)
    elif code == IDENTITY:
        out[...] = z
    else:
        activation_forward(z.reshape(-1), code, out.reshape(-1))


#: Up to this many multiply-adds per step (rows x H x H) the whole recurrence runs in
#: one numba call; above it, one BLAS product per step is faster.  (A BLAS call costs
#: about a microsecond of overhead; a 100 x 100 step is ten thousand multiply-adds.)
SMALL_STEP = 1 << 15


def _is_small(path: np.ndarray, A: np.ndarray) -> bool:
    return path[0].size * A.shape[0] <= SMALL_STEP


def _forward_by_steps(A, p, code, path) -> None:
    """path[t + 1] = f(path[t] @ A^T + p[t]): one BLAS product per step, into one scratch buffer.

    A^T is copied once into contiguous memory: BLAS runs a product with a
    transposed view about 20% slower, at every step."""
    At = np.ascontiguousarray(A.T, dtype=path.dtype)
    z = np.empty(path.shape[1:], dtype=path.dtype)  # A h_{t-1} + p_t, before f
    for t in range(p.shape[0]):
        np.matmul(path[t], At, out=z)
        z += p[t]
        _activate(z, code, out=path[t + 1])


def _backward_by_steps(A, path, grad, factors, code, deltas) -> np.ndarray:
    """Fill deltas newest step first (one BLAS product per step); return dL/dh_0."""
    A = np.ascontiguousarray(A, dtype=path.dtype)
    from_later = np.zeros(path.shape[1:], dtype=path.dtype)
    for t in range(grad.shape[0] - 1, -1, -1):
        delta = deltas[t]
        rnn_step_delta(path[t + 1].reshape(-1), grad[t].reshape(-1), from_later.reshape(-1), code,
                       delta.reshape(-1))
        factor = factors[t]
        if factor == 0.0:
            from_later.fill(0.0)
        else:
            np.matmul(delta, A, out=from_later)
            if factor != 1.0:
                from_later *= factor
    return from_later


def _scan_inputs(A, B, h0, xs, b, draw_inputs: bool):
    """The node's inputs and its ``xs=`` keyword.  Token indices are data; so are feature
    vectors given as an array, unless ``draw_inputs`` (then they become a constant input,
    which drawings show); a Tensor of features is always an input, so that its gradient or
    tangent reaches it."""
    tensors = (A, B, h0) if b is None else (A, B, h0, b)
    if isinstance(xs, mg.Tensor) or (draw_inputs and not holds_indices(xs)):
        return tensors + (xs,), None
    return tensors, np.asarray(xs)


#: One-hot inputs run as indices from this many multiply-adds of the product B x on
#: (rows x n_in x H).  Measured on whole training steps of the benchmark: C1 (25 x 65 x
#: 100, 160 thousand) took 5% longer as indices (the test, the lookup and the scatter
#: cost more than two small products), C2 (35 x 32 x 65 x 128, 9 million) 5% less, C4
#: (1000 x 16 x 65 x 128) 7% less.
ONE_HOT_LOOKUP_WORK = 1 << 20


def one_hot_as_indices(xs: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The token indices that one-hot inputs ``xs`` (..., n_in) spell, or ``xs`` itself when
    they are not one-hot (or not float vectors of B's n_in inputs, or too few to pay).

    A shortcut with the same results (dL/dB up to the rounding of another
    summation order): for a one-hot x_t, B x_t is column x_t of B, so the
    segment looks it up instead of multiplying (for C3 of the benchmark the
    dense products were nearly a fifth of the work), and dL/dB becomes a
    scatter of the deltas instead of a second product.  The test
    (``one_hot_positions``) is exact: every vector has one entry equal to 1
    and all others 0, or nothing changes; it reads each entry at most once,
    H times less work than the product it saves, and stops at the end of the
    first row that is not one-hot.  Only where the lookup gives what the
    product would, dtype included: a float64 one-hot times a float32 B is a
    float64 product, so those stay dense.
    """
    if (xs.dtype.kind != "f" or xs.ndim < 2 or xs.shape[-1] != B.shape[1]
            or xs.size * B.shape[0] < ONE_HOT_LOOKUP_WORK or np.result_type(xs.dtype, B.dtype) != B.dtype):
        return xs
    rows = xs.reshape(-1, xs.shape[-1])
    positions = np.empty(len(rows), dtype=np.int64)
    if not one_hot_positions(rows, positions):
        return xs
    return positions.reshape(xs.shape[:-1])


def elman_scan(A, B, h0, xs, b=None, *, factors, code):
    """Steps 1..L of the fused Elman recurrence from h0: the states h_1..h_L, (L, ..., H),
    as one ``ElmanScan`` node with the plan's ``factors`` inside.  (An array xs stays data:
    wrapping it as a tensor input would cost a segment about 3 microseconds.)  One-hot
    vectors given as an array run as the token indices they spell (``one_hot_as_indices``)."""
    tensors, data = _scan_inputs(A, B, h0, xs, b, draw_inputs=False)
    if data is not None:
        data = one_hot_as_indices(data, B.data if isinstance(B, mg.Tensor) else np.asarray(B))
    return ElmanScan.apply(*tensors, xs=data, factors=factors, code=code)


def elman_step(A, B, h, x, b=None, *, code):
    """One step of the fused Elman recurrence, h = f(A h + B x [+ b]): the scan of length 1
    (factor 1: the driver edits the edge into it before the call, as for any cell).  A
    feature vector x is an input of the node, so the per-step drawing shows x_t."""
    tensors, data = _scan_inputs(A, B, h, x, b, draw_inputs=True)
    return ElmanScan.apply(*tensors, xs=data, factors=(1.0,), code=code, one_step=True)


__all__ = ["ElmanScan", "ScanMeta", "elman_scan", "elman_step", "holds_indices", "one_hot_as_indices", "ONE_HOT_LOOKUP_WORK"]
