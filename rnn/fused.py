"""The Elman RNN's fused nodes: one time step, or a whole segment of steps, as one tape node.

A per-op cell records about five nodes per step (two products, an add, f, the
readout); each costs microseconds of Python, which for small hidden sizes is
more than the arithmetic.  These nodes do the same maths with a hand-written
backward:

* ``ElmanStep``: h = f(A h_prev + B x [+ b]) for one step;
* ``ElmanScan``: h_t = f(A h_{t-1} + B x_t [+ b]) for the steps of a segment,
  with B x_t [+ b] computed for the whole segment first, as one matrix product
  (one row lookup for token indices).  The truncation plan's edge factors for
  the segment go into the node:
  its backward multiplies dL/dh_{t-1} by the factor of the edge into step t
  (1 passes, 0 cuts, c scales), exactly as the stop-gradient and
  scale-gradient nodes of the per-step graph would.

Both give the gradients of the per-op graph (the tests check it); the per-op
graph remains what ``rnn.unroll`` and the drawings show.
"""

from __future__ import annotations

import numpy as np

from minigrad.errors import ShapeError
from minigrad.kernels import (
    activation_backward,
    activation_forward,
    elman_scan_backward,
    elman_scan_forward,
    rnn_cell_forward,
    rnn_step_delta,
)
from minigrad.ops import Function
from minigrad.ops.base import out_of_range
from minigrad.ops.shape import rows_gradient

TANH, IDENTITY = 1, 0  # activation codes (minigrad.kernels.ACTIVATION_CODES) with a faster NumPy path


def _flat(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1)


def _rows(a: np.ndarray, width: int) -> np.ndarray:
    """``a`` as a matrix of rows of length ``width`` (the batch and time axes stacked)."""
    return a.reshape(-1, width)


class ElmanStep(Function):
    """The fused recurrent update h = f(A h_prev + B x [+ b]) as one node.

    Backward, with delta = dL/dh * f'(.) (through the saved h):
    dL/dA = sum_rows delta h_prev^T, dL/dB = sum_rows delta x^T, dL/db = sum_rows delta,
    dL/dh_prev = A^T delta, dL/dx = B^T delta.
    """

    name = "elman_step"

    @staticmethod
    def forward(ctx, A, B, h_prev, x, *bias, code):
        recurrent = h_prev @ A.T
        projected = x @ B.T
        if bias:
            projected = projected + bias[0]
        shape = np.broadcast_shapes(recurrent.shape, projected.shape)
        h = np.empty(shape, dtype=np.result_type(recurrent, projected))
        rnn_cell_forward(_flat(np.broadcast_to(recurrent, shape)), _flat(np.broadcast_to(projected, shape)),
                         code, h.reshape(-1))
        ctx.save(A, B, h_prev, x, h)
        ctx.meta = code
        return h

    @staticmethod
    def backward(ctx, grad):
        A, B, h_prev, x, h = ctx.saved
        delta = np.empty(h.shape, dtype=h.dtype)
        activation_backward(_flat(h), _flat(grad.astype(h.dtype, copy=False)), ctx.meta, delta.reshape(-1))
        rows = _rows(delta, A.shape[0])
        dA = rows.T @ _rows(np.broadcast_to(h_prev, h.shape), A.shape[1])
        dB = rows.T @ _rows(np.broadcast_to(x, h.shape[:-1] + x.shape[-1:]), B.shape[1])
        grads = (dA, dB, delta @ A, delta @ B)
        return grads + (delta,) * (len(ctx.inputs) - 4)


def _activate_in_place(z: np.ndarray, code: int) -> None:
    """z = f(z).  NumPy's vectorised tanh beats a per-element numba tanh on large arrays."""
    if code == TANH:
        np.tanh(z, out=z)
    elif code != IDENTITY:
        flat = z.reshape(-1)
        activation_forward(flat, code, flat)


#: Up to this many multiply-adds per step (rows x H x H) the whole recurrence runs in
#: one numba call; above it, one BLAS product per step is faster.  (A BLAS call costs
#: about a microsecond of overhead; a 100 x 100 step is ten thousand multiply-adds.)
SMALL_STEP = 1 << 15


def _is_small(path: np.ndarray, A: np.ndarray) -> bool:
    return path[0].size * A.shape[0] <= SMALL_STEP


class ElmanScan(Function):
    """``ElmanStep`` over a whole segment: h_t = f(A h_{t-1} + B x_t [+ b]) for t = 1..L as one
    node, whose output stacks h_1..h_L.

    Inputs: A (H, H), B (H, n_in), the segment's initial state h_0 [, b (H,)].
    ``xs``: the segment's inputs, (L, [batch,] n_in) vectors or (L, [batch])
    token indices (then B x_t is column x_t of B); they are data, no gradient
    flows to them.  ``factors[t-1]`` is the plan's factor on the edge h_{t-1} -> h_t.

    Forward: p_t = B x_t [+ b] for every step at once (one product, or one
    row lookup of B^T for indices), then the recurrence h_t = f(A h_{t-1} + p_t).
    Backward, from the newest step to the oldest, with g_t = dL/dh_t (the
    gradient arriving at the output plus what step t+1 sends back):

        delta_t     = g_t * f'(.)              (through the saved h_t)
        dL/dh_{t-1} += factor_t * delta_t A     (0: cut, nothing flows)
        dL/dA       = sum_t delta_t^T h_{t-1}   (one product over the stacked segment)
        dL/dB       = sum_t delta_t^T x_t       (one product; a scatter for indices)
        dL/db       = sum_t delta_t

    The states live in one buffer, the *path* h_0, h_1..h_L: the output is its
    view path[1:], and dL/dA multiplies the deltas by the view path[:-1].
    Small recurrences run as one numba loop each way (``minigrad.kernels``),
    larger ones as one BLAS product per step; both compute the same sums.
    """

    name = "elman_scan"

    @classmethod
    def check(cls, A, B, h0, *bias, xs, factors, code):
        n_in = B.shape[1]
        if xs.dtype.kind in "iu":
            bad = out_of_range(xs, 0, n_in)
            if bad is not None:
                raise ValueError(f"elman_scan: token index {bad} is out of range for {n_in} inputs")
        elif xs.ndim < 2 or xs.shape[-1] != n_in:
            raise ShapeError(f"elman_scan: xs of shape {xs.shape} does not hold vectors of the {n_in} inputs B takes")
        if len(factors) != len(xs):
            raise ShapeError(f"elman_scan: {len(factors)} edge factors for a segment of {len(xs)} steps")

    @staticmethod
    def forward(ctx, A, B, h0, *bias, xs, factors, code):
        p = _input_projection(B, xs)  # fresh and contiguous: (L, [batch,] H)
        if bias:
            p += bias[0]
        L, H = p.shape[0], p.shape[-1]
        path = np.empty((L + 1,) + p.shape[1:], dtype=p.dtype)
        path[0] = h0
        if _is_small(path, A):  # the kernels see every step as (rows, H): R = 1 without a batch
            elman_scan_forward(np.ascontiguousarray(A.T, dtype=p.dtype), p.reshape(L, -1, H), code,
                               path.reshape(L + 1, -1, H))
        else:
            _forward_by_steps(A, p, code, path)
        ctx.save(A, path, xs)
        ctx.meta = (np.asarray(factors, dtype=p.dtype), code, B.shape)
        return path[1:]

    @staticmethod
    def backward(ctx, grad):
        A, path, xs = ctx.saved
        factors, code, B_shape = ctx.meta
        L, H = path.shape[0] - 1, path.shape[-1]
        grad = np.ascontiguousarray(grad, dtype=path.dtype)
        deltas = np.empty_like(grad)
        if _is_small(path, A):
            carried = elman_scan_backward(np.ascontiguousarray(A, dtype=path.dtype), path.reshape(L + 1, -1, H),
                                          grad.reshape(L, -1, H), factors, code, deltas.reshape(L, -1, H))
            dh0 = carried.reshape(path.shape[1:])
        else:
            dh0 = _backward_by_steps(A, path, grad, factors, code, deltas)
        rows = deltas.reshape(-1, H)
        dA = rows.T @ path[:-1].reshape(-1, H)
        dB = _input_weight_grad(rows, xs, B_shape)
        if len(ctx.inputs) == 3:
            return dA, dB, dh0
        return dA, dB, dh0, rows.sum(axis=0)


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


def _forward_by_steps(A, p, code, path) -> None:
    """path[t + 1] = f(path[t] @ A^T + p[t]): one BLAS product per step, written in place.

    A^T is copied once into contiguous memory: BLAS runs a product with a
    transposed view about 20% slower, at every step."""
    At = np.ascontiguousarray(A.T)
    for t in range(p.shape[0]):
        z = path[t + 1]
        np.matmul(path[t], At, out=z)
        z += p[t]
        _activate_in_place(z, code)


def _backward_by_steps(A, path, grad, factors, code, deltas) -> np.ndarray:
    """Fill deltas newest step first (one BLAS product per step); return dL/dh_0."""
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


__all__ = ["ElmanScan", "ElmanStep"]
