"""The LSTM and the GRU over a whole segment as one node each: ``LSTMScan`` and ``GRUScan``.

A fused gated step (``rnn.gated.LSTMStep``) is one node, but a stepping
driver still records a node, a few slices and a readout per time step, and
each costs microseconds of Python.  A scan node runs steps 1..L of a segment
at once, as ``rnn.fused.ElmanScan`` does for the Elman RNN:

* the input products x_t W^T + b of every step are one matrix product;
* the recurrence is one product h_{t-1} U^T per step plus the step node's
  own element-wise kernel (``minigrad.kernels.gates``), into buffers made
  once for the segment;
* the backward runs newest step first, one kernel and one product
  delta_t U per step, and then dL/dW, dL/dU and dL/db as one product (or
  sum) each over the stacked segment, not one per step;
* the truncation plan's edge factors for the segment go into the node:
  factors[t-1] multiplies the gradient along the edge state_{t-1} -> state_t
  (1 passes, 0 cuts, c scales), for the LSTM along both h and c, exactly as
  the stop-gradient or scale-gradient nodes on (h, c) of a stepping driver.

So a segment records one node plus its readout, whatever L, and the tests
hold each scan to the gradients of stepping the same cell.  Rows are laid
out as for the step nodes (``rnn.gated_common``): every batch axis
flattened, one row per example.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minigrad.errors import ShapeError
from minigrad.kernels.gates import gru_backward, gru_forward, lstm_backward, lstm_forward
from minigrad.ops import Function

from .fused import _sum_to_lead
from .gated_common import as_rows, check_gated, gru_tangent, lead_shape, lstm_tangent, pre_tangent


class GatedScanMeta(NamedTuple):
    """What a gated scan node keeps besides its arrays (``node.meta``)."""

    factors: tuple  #: factors[t-1]: the plan's factor on the edge state_{t-1} -> state_t
    lead: tuple  #: the batch axes of the states (those of xs and of the initial state, broadcast)
    x_lead: tuple  #: the batch axes of xs, which may be fewer


def _check_segment(op: str, gates: int, W, U, b, xs, states, factors, b_hn=None) -> None:
    """ShapeError naming ``op`` unless xs holds L >= 1 steps that fit the weights and states
    (``check_gated`` on one step) and there is one factor per step."""
    if xs.ndim < 2 or len(xs) == 0:
        raise ShapeError(f"{op}: xs must hold a segment of L >= 1 steps, shape (L, n_in) or (L, ..., n_in); "
                         f"got shape {xs.shape}")
    check_gated(op, gates, W, U, b, xs.data[0], states, b_hn)
    if len(factors) != len(xs):
        raise ShapeError(f"{op}: {len(factors)} edge factors for a segment of {len(xs)} steps; "
                         "pass one factor per step (1 passes, 0 cuts, c scales)")


def _steps_as_rows(xs: np.ndarray, lead: tuple, dtype) -> np.ndarray:
    """xs (L, *x_lead, k) broadcast to (L, *lead, k), as C-contiguous rows (L rows, k): step t's
    row t * rows + r is example r at step t.  (The batch axes broadcast after the time axis.)"""
    x_lead = xs.shape[1:-1]
    if x_lead != lead:
        xs = xs.reshape(xs.shape[:1] + (1,) * (len(lead) - len(x_lead)) + xs.shape[1:])
    return as_rows(xs, (len(xs),) + lead, dtype)


def _start(W, U, b, xs, states, factors):
    """What both scans begin with: the node's meta, xs as rows X, and the stacked input
    products P = X W^T + b as (L, rows, gates n), which the kernels turn into the gates."""
    lead = lead_shape(xs[0], *states)
    X = _steps_as_rows(xs, lead, np.result_type(W, U, b, xs, *states))
    P = X @ W.T
    P += b
    meta = GatedScanMeta(tuple(float(f) for f in factors), lead, xs.shape[1:-1])
    return meta, X, P.reshape(len(xs), -1, W.shape[0])


def _carried(factor: float, outside: np.ndarray, carried: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The gradient at a step's new state: what reaches it from outside the node, plus
    ``factor`` times what the next step sends back along their edge (written into ``out``)."""
    if factor == 0.0:
        return outside
    if factor == 1.0:
        return np.add(outside, carried, out=out)
    np.multiply(carried, factor, out=out)
    out += outside
    return out


def _input_grads(ctx, deltas: np.ndarray, X: np.ndarray, W: np.ndarray):
    """(dL/dW, dL/dxs) from the stacked deltas dL/d(x_t W^T + b), (L rows, gates n): one product
    each; dL/dxs only when xs is a tensor that wants it, summed back over broadcast batch axes."""
    dW = deltas.T @ X
    if not ctx.inputs[-1].requires_grad:
        return dW, None
    L, meta = len(ctx.inputs[-1].data), ctx.meta
    return dW, _sum_to_lead((deltas @ W).reshape((L,) + meta.lead + W.shape[1:]), meta.x_lead)


class LSTMScan(Function):
    """Steps 1..L of the LSTM from (h_0, c_0) as one node, whose output stacks [h_t | c_t] for t = 1..L.

    Inputs: W (4n, n_in), U (4n, n), b (4n,), h_0 (..., n), c_0 (..., n) and
    xs (L, ..., n_in), the segment's inputs (dL/dxs when xs requires grad);
    the batch axes of xs and of the state broadcast.  ``factors[t-1]``: the
    plan's factor on the edge (h_{t-1}, c_{t-1}) -> step t.  The output,
    (L, ..., 2n), holds each step's new h and new c side by side, as
    ``LSTMStep``'s output does (``LSTM.run_segment`` slices it).

    Forward: p_t = x_t W^T + b for every step as one product; then per step
    pre_t = p_t + h_{t-1} U^T (one product) and the step's kernel
    ``lstm_forward``: the gates i, f, g, o, c_t = f c_{t-1} + i g and
    h_t = o tanh(c_t).  The states live in one buffer, the *path*
    [h_0 | c_0], .., [h_L | c_L]: the output is its view path[1:].

    Backward, newest step first, with G_t = [dL/dh_t | dL/dc_t] arriving at
    the output (the readout, a later segment) and delta_t = dL/dpre_t:

        [dh_t | dc_t]  = G_t + factor_{t+1} [delta_{t+1} U | dc_{t+1} f_{t+1}]   (t < L; G_L at t = L)
        delta_t        = lstm_backward([dh_t | dc_t])        (the step's kernel:
                         dc_t += dh_t o (1 - tanh^2 c_t), then each gate's slope)
        dL/dW = sum_t delta_t^T x_t,  dL/dU = sum_t delta_t^T h_{t-1},  dL/db = sum_t delta_t
                         (one product or sum each, over the stacked segment)
        dL/dx_t        = delta_t W
        [dL/dh_0 | dL/dc_0] = factor_1 [delta_1 U | dc_1 f_1]

    A factor 0 sends nothing back: its product delta U is not even computed.

    Tangent (forward mode, ``jvp``): the recurrence of the tangents, oldest
    step first, with the same factors on the edges.
    """

    name = "lstm_scan"

    @classmethod
    def check(cls, W, U, b, h0, c0, xs, *, factors):
        _check_segment(cls.name, 4, W, U, b, xs, (h0, c0), factors)

    @staticmethod
    def forward(ctx, W, U, b, h0, c0, xs, *, factors):
        n = U.shape[1]
        ctx.meta, X, gates = _start(W, U, b, xs, (h0, c0), factors)
        L, rows, lead, dtype = gates.shape[0], gates.shape[1], ctx.meta.lead, gates.dtype
        path = np.empty((L + 1, rows, 2 * n), dtype=dtype)
        path[0, :, :n] = as_rows(h0, lead, dtype)
        path[0, :, n:] = as_rows(c0, lead, dtype)
        Ut = np.ascontiguousarray(U.T, dtype=dtype)  # BLAS runs a transposed view ~20% slower, at every step
        pre = np.empty((rows, 4 * n), dtype=dtype)
        for t in range(L):
            np.matmul(path[t, :, :n], Ut, out=pre)
            pre += gates[t]
            lstm_forward(pre, path[t, :, n:], gates[t], path[t + 1])  # gates[t]: p_t in, the gates out
        ctx.save(W, U, X, path, gates)
        return path[1:].reshape((L,) + lead + (2 * n,))

    @staticmethod
    def backward(ctx, grad):
        W, U, X, path, gates = ctx.saved
        factors = ctx.meta.factors
        L, rows, n = len(gates), gates.shape[1], U.shape[1]
        G = np.ascontiguousarray(grad, dtype=path.dtype).reshape(L, rows, 2 * n)
        U = np.ascontiguousarray(U, dtype=path.dtype)
        deltas = np.empty_like(gates)
        carried = np.zeros((rows, 2 * n), dtype=path.dtype)  # [delta_{t+1} U | dc_{t+1} f_{t+1}]
        at_state = np.empty_like(carried)
        for t in range(L - 1, -1, -1):
            g = _carried(factors[t + 1] if t + 1 < L else 0.0, G[t], carried, at_state)
            lstm_backward(g, gates[t], path[t + 1], path[t, :, n:], deltas[t], carried[:, n:])
            if factors[t] != 0.0:
                np.matmul(deltas[t], U, out=carried[:, :n])
        d0 = None if factors[0] == 0.0 else factors[0] * carried
        deltas = deltas.reshape(-1, 4 * n)
        dW, dxs = _input_grads(ctx, deltas, X, W)
        dU = deltas.T @ path[:-1, :, :n].reshape(-1, n)
        lead = ctx.meta.lead + (n,)
        return (dW, dU, deltas.sum(axis=0), None if d0 is None else d0[:, :n].reshape(lead),
                None if d0 is None else d0[:, n:].reshape(lead), dxs)

    @staticmethod
    def jvp(ctx, dW, dU, db, dh0, dc0, dxs):
        """The tangent of [h_t | c_t] for t = 1..L, oldest step first (None: held constant):

            dp_t   = dx_t W^T + x_t dW^T + h_{t-1} dU^T + db        (for every step at once)
            dpre_t = dp_t + factor_t dh_{t-1} U^T
            dh_t, dc_t = ``lstm_tangent``(dpre_t, factor_t dc_{t-1})  through the saved gates

        The factor follows the backward (as scale_grad's tangent does), so the two
        rules stay transposes of each other."""
        W, U, X, path, gates = ctx.saved
        meta = ctx.meta
        L, rows, n = len(gates), gates.shape[1], U.shape[1]
        dX = None if dxs is None else _steps_as_rows(dxs, meta.lead, gates.dtype)
        hs = path[:-1, :, :n].reshape(-1, n)
        dp = pre_tangent(gates.reshape(-1, 4 * n), (len(X),), ((dX, W),), ((X, dW), (hs, dU)), db)
        dp = dp.reshape(L, rows, 4 * n)
        out = np.empty((L, rows, 2 * n), dtype=dp.dtype)
        dh = None if dh0 is None else as_rows(dh0, meta.lead, dp.dtype)
        dc = None if dc0 is None else as_rows(dc0, meta.lead, dp.dtype)
        for t in range(L):
            factor = meta.factors[t]
            dpre = dp[t] if dh is None or factor == 0.0 else dp[t] + factor * (dh @ U.T)
            dc_prev = None if dc is None or factor == 0.0 else factor * dc
            out[t, :, :n], out[t, :, n:] = lstm_tangent(dpre, gates[t], path[t, :, n:], path[t + 1, :, n:], dc_prev)
            dh, dc = out[t, :, :n], out[t, :, n:]
        return out.reshape((L,) + meta.lead + (2 * n,))


class GRUScan(Function):
    """Steps 1..L of the GRU from h_0 as one node, whose output stacks h_1..h_L.

    Inputs: W (3n, n_in), U (3n, n), b (3n,), b_hn (n,), h_0 (..., n) and
    xs (L, ..., n_in), the segment's inputs (dL/dxs when xs requires grad);
    the batch axes of xs and of h_0 broadcast.  ``factors[t-1]``: the plan's
    factor on the edge h_{t-1} -> h_t.  Output (L, ..., n).

    Forward: px_t = x_t W^T + b for every step as one product; then per step
    ph_t = h_{t-1} U^T (one product) and the step's kernel ``gru_forward``
    (the gates r, z, n, hn_t = U_n h_{t-1} + b_hn kept for the backward, and
    h_t = (1 - z) n + z h_{t-1}).  The states live in one buffer, the path
    h_0, h_1..h_L: the output is its view path[1:].

    Backward, newest step first, with G_t = dL/dh_t arriving at the output:

        dh_t     = G_t + factor_{t+1} (dh_t z_{t+1} + dph_{t+1} U)   (t < L; G_L at t = L)
        dpx_t, dph_t, dh_t z_t = gru_backward(dh_t)    (the step's kernel: dpx = dL/dpx_t,
                                                        dph = dL/dph_t, and the part that skips U)
        dL/dW = sum_t dpx_t^T x_t,  dL/dU = sum_t dph_t^T h_{t-1},  dL/db = sum_t dpx_t,
        dL/db_hn = sum_t (dph_t)_n      (one product or sum each, over the stacked segment)
        dL/dx_t  = dpx_t W
        dL/dh_0  = factor_1 (dh_1 z_1 + dph_1 U)

    A factor 0 sends nothing back: its product dph U is not even computed.

    Tangent (forward mode, ``jvp``): the recurrence of the tangents, oldest
    step first, with the same factors on the edges.
    """

    name = "gru_scan"

    @classmethod
    def check(cls, W, U, b, b_hn, h0, xs, *, factors):
        _check_segment(cls.name, 3, W, U, b, xs, (h0,), factors, b_hn)

    @staticmethod
    def forward(ctx, W, U, b, b_hn, h0, xs, *, factors):
        n = U.shape[1]
        ctx.meta, X, gates = _start(W, U, b, xs, (h0,), factors)
        L, rows, lead, dtype = gates.shape[0], gates.shape[1], ctx.meta.lead, gates.dtype
        path = np.empty((L + 1, rows, n), dtype=dtype)
        path[0] = as_rows(h0, lead, dtype)
        hn = np.empty((L, rows, n), dtype=dtype)
        Ut = np.ascontiguousarray(U.T, dtype=dtype)
        b_hn = np.ascontiguousarray(b_hn, dtype=dtype)
        ph = np.empty((rows, 3 * n), dtype=dtype)
        for t in range(L):
            np.matmul(path[t], Ut, out=ph)
            gru_forward(gates[t], ph, b_hn, path[t], gates[t], hn[t], path[t + 1])  # gates[t]: px_t in, the gates out
        ctx.save(W, U, X, path, gates, hn)
        return path[1:].reshape((L,) + lead + (n,))

    @staticmethod
    def backward(ctx, grad):
        W, U, X, path, gates, hn = ctx.saved
        factors = ctx.meta.factors
        L, rows, n = len(gates), gates.shape[1], U.shape[1]
        G = np.ascontiguousarray(grad, dtype=path.dtype).reshape(L, rows, n)
        U = np.ascontiguousarray(U, dtype=path.dtype)
        dpx, dph = np.empty_like(gates), np.empty_like(gates)
        carried = np.zeros((rows, n), dtype=path.dtype)  # dh_{t+1} z_{t+1} (+ dph_{t+1} U below)
        through_U = np.empty_like(carried)  # dph_{t+1} U
        at_state = np.empty_like(carried)
        for t in range(L - 1, -1, -1):
            g = _carried(factors[t + 1] if t + 1 < L else 0.0, G[t], carried, at_state)
            gru_backward(g, gates[t], hn[t], path[t], dpx[t], dph[t], carried)
            if factors[t] != 0.0:
                np.matmul(dph[t], U, out=through_U)
                carried += through_U
        d0 = None if factors[0] == 0.0 else factors[0] * carried
        dpx, dph = dpx.reshape(-1, 3 * n), dph.reshape(-1, 3 * n)
        dW, dxs = _input_grads(ctx, dpx, X, W)
        dU = dph.T @ path[:-1].reshape(-1, n)
        return (dW, dU, dpx.sum(axis=0), dph[:, 2 * n:].sum(axis=0),
                None if d0 is None else d0.reshape(ctx.meta.lead + (n,)), dxs)

    @staticmethod
    def jvp(ctx, dW, dU, db, db_hn, dh0, dxs):
        """The tangent of h_1..h_L, oldest step first (None: held constant):

            dpx_t = dx_t W^T + x_t dW^T + db,   dq_t = h_{t-1} dU^T + db_hn (n block)   (every step at once)
            dph_t = dq_t + factor_t dh_{t-1} U^T
            dh_t  = ``gru_tangent``(dpx_t, dph_t, factor_t dh_{t-1})  through the saved gates

        The factor follows the backward, so the two rules stay transposes of each other."""
        W, U, X, path, gates, hn = ctx.saved
        meta = ctx.meta
        L, rows, n = len(gates), gates.shape[1], U.shape[1]
        dX = None if dxs is None else _steps_as_rows(dxs, meta.lead, gates.dtype)
        like, lead = gates.reshape(-1, 3 * n), (len(X),)
        dpx = pre_tangent(like, lead, ((dX, W),), ((X, dW),), db).reshape(L, rows, 3 * n)
        dq = pre_tangent(like, lead, (), ((path[:-1].reshape(-1, n), dU),), db_hn, bias_columns=slice(2 * n, None))
        dq = dq.reshape(L, rows, 3 * n)
        out = np.empty((L, rows, n), dtype=dpx.dtype)
        dh = None if dh0 is None else as_rows(dh0, meta.lead, dpx.dtype)
        for t in range(L):
            factor = meta.factors[t]
            dh_prev = None if dh is None or factor == 0.0 else factor * dh
            dph = dq[t] if dh_prev is None else dq[t] + dh_prev @ U.T
            out[t] = gru_tangent(dpx[t], dph, gates[t], hn[t], path[t], dh_prev)
            dh = out[t]
        return out.reshape((L,) + meta.lead + (n,))


__all__ = ["LSTMScan", "GRUScan", "GatedScanMeta"]
