"""What the gated nodes share: the shape check, the rows layout and the tangent of one step.

The step nodes (``rnn.gated``: ``LSTMStep``, ``GRUStep``, one time step) and
the scan nodes (``rnn.gated_scan``: ``LSTMScan``, ``GRUScan``, a segment) run
the same element-wise kernels (``minigrad.kernels.gates``) on the same
layout: every batch axis flattened into rows, one row per example, the gates
stacked along the last axis (n = n_hidden columns each).  So they also share
the forward-mode maths of one step, written here once on those rows.
"""

from __future__ import annotations

import numpy as np

from minigrad.errors import ShapeError


def check_gated(op: str, gates: int, W, U, b, x, states, b_hn=None) -> None:
    """ShapeError naming ``op`` unless W (gates n, n_in), U (gates n, n), b (gates n,),
    x (..., n_in) and every state (..., n) fit, with broadcastable leading axes, and
    the GRU's b_hn (if given) is (n,)."""
    n = U.shape[-1] if U.ndim else 0
    fits = (
        W.ndim == 2 and U.ndim == 2 and U.shape == (gates * n, n) and W.shape[0] == gates * n
        and b.shape == (gates * n,) and x.ndim >= 1 and x.shape[-1] == W.shape[1]
        and all(s.ndim >= 1 and s.shape[-1] == n for s in states)
    )
    if fits:
        try:
            np.broadcast_shapes(*(t.shape[:-1] for t in (x, *states)))
        except ValueError:
            fits = False
    if not fits:
        raise ShapeError(
            f"{op}: W {W.shape}, U {U.shape}, b {b.shape}, x {x.shape} and state "
            f"{', '.join(str(s.shape) for s in states)} do not fit; with n = n_hidden they must be "
            f"W ({gates}n, n_in), U ({gates}n, n), b ({gates}n,), x (..., n_in), state (..., n)"
        )
    if b_hn is not None and b_hn.shape != U.shape[1:]:
        raise ShapeError(f"{op}: b_hn must have shape (n_hidden,) = {U.shape[1:]}, got {b_hn.shape}")


def lead_shape(*arrays) -> tuple:
    """The broadcast batch shape (every axis but the last) of the inputs; () unbatched."""
    return np.broadcast_shapes(*(a.shape[:-1] for a in arrays))


def as_rows(a: np.ndarray, lead: tuple, dtype) -> np.ndarray:
    """``a`` broadcast to ``lead`` and laid out as a C-contiguous (rows, features) matrix."""
    if a.shape[:-1] != lead:
        a = np.broadcast_to(a, lead + a.shape[-1:])
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1, a.shape[-1])


def pre_tangent(gates, lead, tangent_times_weight, input_times_tangent, bias, bias_columns=slice(None)):
    """The tangent of a stacked pre-activation such as x W^T + h U^T + b, as rows (rows, gates n):
    the sum of dt W^T for each (dt, W) and of a dW^T for each (a, dW) whose tangent is not None,
    plus the bias tangent in ``bias_columns``; zeros where every tangent is None."""
    out = np.zeros_like(gates)
    for tangent, weight in tangent_times_weight:
        if tangent is not None:
            out += as_rows(tangent, lead, gates.dtype) @ weight.T
    for rows, tangent in input_times_tangent:
        if tangent is not None:
            out += rows @ tangent.T
    if bias is not None:
        out[:, bias_columns] += bias
    return out


def lstm_tangent(dpre, gates, c_prev, c, dc_prev):
    """(dh, dc) of one LSTM step, as rows, from the tangent dpre of its pre-activations
    [i | f | g | o], the saved gates, c_prev and c, and dc_prev (None: held constant):

        di, df, dg, do = i (1 - i) dpre_i, f (1 - f) dpre_f, (1 - g^2) dpre_g, o (1 - o) dpre_o
        dc = df c_prev + f dc_prev + di g + i dg
        dh = do tanh(c) + o (1 - tanh(c)^2) dc
    """
    n = c.shape[1]
    i, f, g, o = (gates[:, k * n:(k + 1) * n] for k in range(4))
    dc = (f * (1 - f) * dpre[:, n:2 * n] * c_prev + i * (1 - i) * dpre[:, :n] * g
          + i * (1 - g * g) * dpre[:, 2 * n:3 * n])
    if dc_prev is not None:
        dc += f * dc_prev
    tc = np.tanh(c)
    return o * (1 - o) * dpre[:, 3 * n:] * tc + o * (1 - tc * tc) * dc, dc


def gru_tangent(dpx, dph, gates, hn, h_prev, dh_prev):
    """dh of one GRU step, as rows, from the tangents dpx of x W^T + b and dph of h_prev U^T
    (+ b_hn in the n block), the saved gates and hn = U_n h_prev + b_hn, h_prev, and
    dh_prev (None: held constant):

        dr = r (1 - r) (dpx_r + dph_r),   dz = z (1 - z) (dpx_z + dph_z)
        dn = (1 - n^2) (dpx_n + dr hn + r dph_n)
        dh = dz (h_prev - n) + (1 - z) dn + z dh_prev
    """
    n = h_prev.shape[1]
    r, z, cand = (gates[:, k * n:(k + 1) * n] for k in range(3))
    dr = r * (1 - r) * (dpx[:, :n] + dph[:, :n])
    dz = z * (1 - z) * (dpx[:, n:2 * n] + dph[:, n:2 * n])
    dcand = (1 - cand * cand) * (dpx[:, 2 * n:] + dr * hn + r * dph[:, 2 * n:])
    dh = dz * (h_prev - cand) + (1 - z) * dcand
    if dh_prev is not None:
        dh += z * dh_prev
    return dh
