"""The element-wise part of a fused LSTM or GRU step, forward and backward.

A fused gated step is two BLAS products (x W^T and h U^T, done by NumPy) and
one of these passes, which applies the gate nonlinearities and the state
update without temporaries.  The step nodes (``rnn.gated``) call them once,
the segment scans (``rnn.gated_scan``) once per time step.  Arrays are 2-D
with one row per example, each row contiguous (a row may be a slice of a
wider buffer, such as the c half of [h | c]); n = n_hidden, and a stacked
array holds one block of n columns per gate, in the order of the cell's
docstring.  The backward passes take the saved gate values and write the
derivatives through them (sigmoid' = s (1 - s), tanh' = 1 - t^2), so no
pre-activation has to be kept.

Each kernel makes a few passes, each a loop over the rows around one short
loop over a block of columns, not one loop per unit that touches nine arrays:
the compiler vectorises such short loops, and a vectorised float32 pass costs
about a nanosecond per element where a call to the C library's tanh costs
fourteen.  (Several inner loops inside one loop over the rows ran three times
slower: the compiler left some of them scalar.)  In float32 the
nonlinearities are therefore the rational tanh of ``activations.tanh_float32``
(within one float32 spacing) and sigmoid(v) = (1 + tanh(v / 2)) / 2 (an
absolute error below 3.2e-8, half a float32 spacing at 1); in float64 they
are the C library's, exact to rounding.
"""

import math

from numba import njit

from .activations import SIGMOID, activate, tanh_float32


@njit(cache=True)
def _tanh(v, fast):
    """tanh v: the vectorisable rational tanh when ``fast`` (float32 arrays), else the C library's."""
    return tanh_float32(v) if fast else math.tanh(v)


@njit(cache=True)
def _sigmoid(v, fast):
    """1 / (1 + e^-v): (1 + tanh(v / 2)) / 2 through the rational tanh when ``fast``, else exact."""
    return 0.5 + 0.5 * tanh_float32(0.5 * v) if fast else activate(v, SIGMOID)


@njit(cache=True)
def lstm_forward(pre, c_prev, gates, hc):
    """The LSTM update from the stacked pre-activations pre = [i | f | g | o] (rows, 4n):

        for each row r, and j in range(n):           (gates may be pre itself)
            i, f = sigmoid(pre[r, j]), sigmoid(pre[r, n + j])
            g, o = tanh(pre[r, 2n + j]), sigmoid(pre[r, 3n + j])
            gates[r, j], gates[r, n + j], gates[r, 2n + j], gates[r, 3n + j] = i, f, g, o
            hc[r, n + j] = c = f * c_prev[r, j] + i * g      # the new c ...
            hc[r, j] = o * tanh(c)                           # ... and the new h, side by side
    """
    rows, n = c_prev.shape
    fast = gates.itemsize == 4  # a constant of each compiled version: the branches fold away
    for r in range(rows):
        p, s = pre[r], gates[r]
        for k in range(2 * n):
            s[k] = _sigmoid(p[k], fast)
    for r in range(rows):
        p, s = pre[r], gates[r]
        for j in range(n):  # from 0, the offset in the index: a loop from 2n does not vectorise
            s[2 * n + j] = _tanh(p[2 * n + j], fast)
    for r in range(rows):
        p, s = pre[r], gates[r]
        for j in range(n):
            s[3 * n + j] = _sigmoid(p[3 * n + j], fast)
    for r in range(rows):
        s, c0, c = gates[r], c_prev[r], hc[r, n:]
        for j in range(n):
            c[j] = s[n + j] * c0[j] + s[j] * s[2 * n + j]
    for r in range(rows):
        s, h, c = gates[r], hc[r, :n], hc[r, n:]
        for j in range(n):
            h[j] = s[3 * n + j] * _tanh(c[j], fast)


@njit(cache=True)
def lstm_backward(grad, gates, hc, c_prev, dpre, dc_prev):
    """dL/dpre (rows, 4n) and dL/dc_prev (rows, n) from grad = [dL/dh | dL/dc] (rows, 2n):

        for each row r, and j in range(n):           (i, f, g, o: the gates at r, j)
            dh = grad[r, j]
            tc = tanh(hc[r, n + j])
            dc = grad[r, n + j] + dh * o * (1 - tc^2)   # c reaches L directly and through h
            dpre[r, 3n + j] = dh * tc * o (1 - o)
            dpre[r, j]      = dc * g * i (1 - i)
            dpre[r, n + j]  = dc * c_prev[r, j] * f (1 - f)
            dpre[r, 2n + j] = dc * i * (1 - g^2)
            dc_prev[r, j]   = dc * f

    dc waits in the g block of dpre between the two passes; dc_prev may be grad's c half.
    """
    rows, n = c_prev.shape
    fast = gates.itemsize == 4
    for r in range(rows):
        dh, dc_out, s, c, d = grad[r, :n], grad[r, n:], gates[r], hc[r, n:], dpre[r]
        for j in range(n):
            tc = _tanh(c[j], fast)
            o = s[3 * n + j]
            d[2 * n + j] = dc_out[j] + dh[j] * o * (1 - tc * tc)
            d[3 * n + j] = dh[j] * tc * (o * (1 - o))
    for r in range(rows):
        s, c0, d, dc0 = gates[r], c_prev[r], dpre[r], dc_prev[r]
        for j in range(n):
            i, f, g, dc = s[j], s[n + j], s[2 * n + j], d[2 * n + j]
            d[j] = dc * g * (i * (1 - i))
            d[n + j] = dc * c0[j] * (f * (1 - f))
            d[2 * n + j] = dc * i * (1 - g * g)
            dc0[j] = dc * f


@njit(cache=True)
def gru_forward(px, ph, b_hn, h_prev, gates, hn, h):
    """The GRU update from px = x W^T + b and ph = h_prev U^T, both stacked [r | z | n] (rows, 3n):

        for each row r, and j in range(n):           (gates may be px itself)
            reset = sigmoid(px[r, j] + ph[r, j])
            z = sigmoid(px[r, n + j] + ph[r, n + j])
            hn[r, j] = ph[r, 2n + j] + b_hn[j]             # U_n h_prev + b_hn, kept for backward
            cand = tanh(px[r, 2n + j] + reset * hn[r, j])  # the candidate state n
            gates[r, j], gates[r, n + j], gates[r, 2n + j] = reset, z, cand
            h[r, j] = (1 - z) * cand + z * h_prev[r, j]
    """
    rows, n = h_prev.shape
    fast = gates.itemsize == 4
    for r in range(rows):
        x, u, s = px[r], ph[r], gates[r]
        for k in range(2 * n):
            s[k] = _sigmoid(x[k] + u[k], fast)
    for r in range(rows):
        u, m = ph[r], hn[r]
        for j in range(n):
            m[j] = u[2 * n + j] + b_hn[j]
    for r in range(rows):
        x, s, m = px[r], gates[r], hn[r]
        for j in range(n):
            s[2 * n + j] = _tanh(x[2 * n + j] + s[j] * m[j], fast)
    for r in range(rows):
        s, h0, h1 = gates[r], h_prev[r], h[r]
        for j in range(n):
            z = s[n + j]
            h1[j] = (1 - z) * s[2 * n + j] + z * h0[j]


@njit(cache=True)
def gru_backward(grad, gates, hn, h_prev, dpx, dph, dh_prev):
    """dL/dpx, dL/dph (rows, 3n) and the direct part of dL/dh_prev (rows, n) from grad = dL/dh:

        for each row r, and j in range(n):
            reset, z, cand = gates[r, j], gates[r, n + j], gates[r, 2n + j]
            dh = grad[r, j]
            dcand = dh * (1 - z) * (1 - cand^2)            # through tanh
            dreset = dcand * hn[r, j] * reset (1 - reset)
            dz = dh * (h_prev[r, j] - cand) * z (1 - z)
            dpx[r, j], dpx[r, n + j], dpx[r, 2n + j] = dreset, dz, dcand
            dph[r, j], dph[r, n + j], dph[r, 2n + j] = dreset, dz, dcand * reset
            dh_prev[r, j] = dh * z                         # the gradient that skips U

    The row sums of dph[:, 2n:] are also dL/db_hn.  dh_prev may be grad itself.
    """
    rows, n = h_prev.shape
    for r in range(rows):
        dh, s, m, h0, dx, du = grad[r], gates[r], hn[r], h_prev[r], dpx[r], dph[r]
        for j in range(n):
            reset, z, cand = s[j], s[n + j], s[2 * n + j]
            dcand = dh[j] * (1 - z) * (1 - cand * cand)
            dx[2 * n + j] = dcand
            du[2 * n + j] = dcand * reset
            dx[j] = du[j] = dcand * m[j] * (reset * (1 - reset))
            dx[n + j] = du[n + j] = dh[j] * (h0[j] - cand) * (z * (1 - z))
    for r in range(rows):
        dh, s, d0 = grad[r], gates[r], dh_prev[r]
        for j in range(n):
            d0[j] = dh[j] * s[n + j]
