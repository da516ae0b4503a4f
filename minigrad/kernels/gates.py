"""The element-wise part of a fused LSTM or GRU step, forward and backward.

A fused gated step is two BLAS products (x W^T and h U^T, done by NumPy) and
one of these passes, which applies the gate nonlinearities and the state
update without temporaries.  Arrays are 2-D and C-contiguous with one row per
example; n = n_hidden, and a stacked array holds one block of n columns per
gate, in the order of the cell's docstring.  The backward passes take the
saved gate values and write the derivatives through them (sigmoid' = s (1 - s),
tanh' = 1 - t^2), so no pre-activation has to be kept.
"""

from numba import njit

from .activations import SIGMOID, TANH, activate, derivative_from_output


@njit(cache=True)
def lstm_forward(pre, c_prev, gates, hc):
    """The LSTM update from the stacked pre-activations pre = [i | f | g | o] (rows, 4n):

        for r in range(rows):
            for j in range(n):
                i = sigmoid(pre[r, j]);       f = sigmoid(pre[r, n + j])
                g = tanh(pre[r, 2n + j]);     o = sigmoid(pre[r, 3n + j])
                gates[r, j], gates[r, n + j], gates[r, 2n + j], gates[r, 3n + j] = i, f, g, o
                c = f * c_prev[r, j] + i * g
                hc[r, j] = o * tanh(c)        # the new h ...
                hc[r, n + j] = c              # ... and the new c, side by side
    """
    n = c_prev.shape[1]
    for r in range(pre.shape[0]):
        for j in range(n):
            i = activate(pre[r, j], SIGMOID)
            f = activate(pre[r, n + j], SIGMOID)
            g = activate(pre[r, 2 * n + j], TANH)
            o = activate(pre[r, 3 * n + j], SIGMOID)
            gates[r, j] = i
            gates[r, n + j] = f
            gates[r, 2 * n + j] = g
            gates[r, 3 * n + j] = o
            c = f * c_prev[r, j] + i * g
            hc[r, j] = o * activate(c, TANH)
            hc[r, n + j] = c


@njit(cache=True)
def lstm_backward(grad, gates, hc, c_prev, dpre, dc_prev):
    """dL/dpre (rows, 4n) and dL/dc_prev (rows, n) from grad = [dL/dh | dL/dc] (rows, 2n):

        for r in range(rows):
            for j in range(n):
                i, f, g, o = gates[r, j], gates[r, n + j], gates[r, 2n + j], gates[r, 3n + j]
                dh = grad[r, j]
                tc = tanh(hc[r, n + j])
                dc = grad[r, n + j] + dh * o * (1 - tc^2)   # c reaches L directly and through h
                dpre[r, j]      = dc * g * i (1 - i)
                dpre[r, n + j]  = dc * c_prev[r, j] * f (1 - f)
                dpre[r, 2n + j] = dc * i * (1 - g^2)
                dpre[r, 3n + j] = dh * tc * o (1 - o)
                dc_prev[r, j]   = dc * f
    """
    n = c_prev.shape[1]
    for r in range(grad.shape[0]):
        for j in range(n):
            i = gates[r, j]
            f = gates[r, n + j]
            g = gates[r, 2 * n + j]
            o = gates[r, 3 * n + j]
            dh = grad[r, j]
            tc = activate(hc[r, n + j], TANH)
            dc = grad[r, n + j] + dh * o * derivative_from_output(tc, TANH)
            dpre[r, j] = dc * g * derivative_from_output(i, SIGMOID)
            dpre[r, n + j] = dc * c_prev[r, j] * derivative_from_output(f, SIGMOID)
            dpre[r, 2 * n + j] = dc * i * derivative_from_output(g, TANH)
            dpre[r, 3 * n + j] = dh * tc * derivative_from_output(o, SIGMOID)
            dc_prev[r, j] = dc * f


@njit(cache=True)
def gru_forward(px, ph, b_hn, h_prev, gates, hn, h):
    """The GRU update from px = x W^T + b and ph = h_prev U^T, both stacked [r | z | n] (rows, 3n):

        for r in range(rows):
            for j in range(n):
                reset = sigmoid(px[r, j] + ph[r, j])
                z = sigmoid(px[r, n + j] + ph[r, n + j])
                hn[r, j] = ph[r, 2n + j] + b_hn[j]             # U_n h_prev + b_hn, kept for backward
                cand = tanh(px[r, 2n + j] + reset * hn[r, j])  # the candidate state n
                gates[r, j], gates[r, n + j], gates[r, 2n + j] = reset, z, cand
                h[r, j] = (1 - z) * cand + z * h_prev[r, j]
    """
    n = h_prev.shape[1]
    for r in range(px.shape[0]):
        for j in range(n):
            reset = activate(px[r, j] + ph[r, j], SIGMOID)
            z = activate(px[r, n + j] + ph[r, n + j], SIGMOID)
            hn[r, j] = ph[r, 2 * n + j] + b_hn[j]
            cand = activate(px[r, 2 * n + j] + reset * hn[r, j], TANH)
            gates[r, j] = reset
            gates[r, n + j] = z
            gates[r, 2 * n + j] = cand
            h[r, j] = (1.0 - z) * cand + z * h_prev[r, j]


@njit(cache=True)
def gru_backward(grad, gates, hn, h_prev, dpx, dph, dh_prev):
    """dL/dpx, dL/dph (rows, 3n) and the direct part of dL/dh_prev (rows, n) from grad = dL/dh:

        for r in range(rows):
            for j in range(n):
                reset, z, cand = gates[r, j], gates[r, n + j], gates[r, 2n + j]
                dh = grad[r, j]
                dcand = dh * (1 - z) * (1 - cand^2)            # through tanh
                dreset = dcand * hn[r, j] * reset (1 - reset)
                dz = dh * (h_prev[r, j] - cand) * z (1 - z)
                dpx[r, j], dpx[r, n + j], dpx[r, 2n + j] = dreset, dz, dcand
                dph[r, j], dph[r, n + j], dph[r, 2n + j] = dreset, dz, dcand * reset
                dh_prev[r, j] = dh * z                         # the gradient that skips U

    The row sums of dph[:, 2n:] are also dL/db_hn.
    """
    n = h_prev.shape[1]
    for r in range(grad.shape[0]):
        for j in range(n):
            reset = gates[r, j]
            z = gates[r, n + j]
            cand = gates[r, 2 * n + j]
            dh = grad[r, j]
            dcand = dh * (1.0 - z) * derivative_from_output(cand, TANH)
            dreset = dcand * hn[r, j] * derivative_from_output(reset, SIGMOID)
            dz = dh * (h_prev[r, j] - cand) * derivative_from_output(z, SIGMOID)
            dpx[r, j] = dreset
            dpx[r, n + j] = dz
            dpx[r, 2 * n + j] = dcand
            dph[r, j] = dreset
            dph[r, n + j] = dz
            dph[r, 2 * n + j] = dcand * reset
            dh_prev[r, j] = dh * z
