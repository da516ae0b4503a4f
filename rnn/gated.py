"""Gated recurrent cells: the LSTM and the GRU, with a linear readout.

Both follow the cell protocol (``rnn.protocol.Cell``: ``initial_state(batch)`` and
``step(x_t, state) -> (state, y_hat)``), so every BPTT strategy drives them
unchanged; the LSTM's state is the tuple (h, c).

Gates are stacked: one matrix W holds the input weights of every gate, one
block of n_hidden rows per gate, and likewise U (recurrent weights) and b
(biases).  So one step costs two matrix products, x W^T and h U^T, whatever
the number of gates.  With a batch, x_t is (batch, n_in) and each row is one
example.

``fused=True`` records the recurrent update of one ``step`` as one node
(``LSTMStep``, ``GRUStep``): NumPy does the two products, a numba kernel
(``minigrad.kernels.gates``) the gate nonlinearities and the state update,
and the backward is written by hand.  The driver runs a fused cell's segments
through its ``scan``: a whole stretch between updates as one node
(``rnn.gated_scan``: ``LSTMScan``, ``GRUScan``), the same kernels once per
step, the input products and the weight gradients hoisted out of the loop.
``fused=False`` builds the same step from engine ops (matvec, +, *, sigmoid,
tanh and slicing), so every gate is its own node on the tape, for drawing and
teaching; it has no scan, so the driver steps it.  All give the same numbers.
The shape checks, the rows layout and the tangent maths the step and scan
nodes share are in ``rnn.gated_common``.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import init
from minigrad.kernels.gates import gru_backward, gru_forward, lstm_backward, lstm_forward
from minigrad.nn import Module, Parameter
from minigrad.ops import Function
from minigrad.validate import positive_int

from .gated_common import as_rows, check_gated, gru_tangent, lead_shape, lstm_tangent, pre_tangent
from .gated_scan import GRUScan, LSTMScan
from .protocol import scan_matches_step


def _block(t, k: int, n: int):
    """Gate k of a stacked tensor: columns k n .. (k + 1) n of the last axis (a getitem node)."""
    return t[..., k * n:(k + 1) * n]


# -- the fused steps -----------------------------------------------------------
class LSTMStep(Function):
    """The fused LSTM update: [h | c] = lstm(W x + U h_prev + b, c_prev) as one node.

    Inputs W, U, b, h_prev, c_prev, x; the output is the new h and the new c
    side by side along the last axis, (..., 2 n_hidden).  Backward: the kernel
    turns [dL/dh | dL/dc] into delta = dL/d(W x + U h_prev + b) and dL/dc_prev;
    then dL/dW = sum_rows delta x^T, dL/dU = sum_rows delta h_prev^T,
    dL/db = sum_rows delta, dL/dh_prev = U^T delta, dL/dx = W^T delta.
    """

    name = "lstm_step"

    @classmethod
    def check(cls, W, U, b, h_prev, c_prev, x):
        check_gated(cls.name, 4, W, U, b, x, (h_prev, c_prev))

    @staticmethod
    def forward(ctx, W, U, b, h_prev, c_prev, x):
        n = U.shape[1]
        lead = lead_shape(h_prev, c_prev, x)
        dtype = np.result_type(W, U, b, h_prev, c_prev, x)
        xs, hs, cs = (as_rows(a, lead, dtype) for a in (x, h_prev, c_prev))
        pre = xs @ W.T
        pre += hs @ U.T
        pre += b
        gates = np.empty_like(pre)
        hc = np.empty((len(pre), 2 * n), dtype=dtype)
        lstm_forward(pre, cs, gates, hc)
        ctx.save(W, U, xs, hs, cs, gates, hc)
        ctx.meta = lead
        return hc.reshape(lead + (2 * n,))

    @staticmethod
    def backward(ctx, grad):
        W, U, xs, hs, cs, gates, hc = ctx.saved
        lead = ctx.meta
        dpre = np.empty_like(gates)
        dc_prev = np.empty_like(cs)
        lstm_backward(as_rows(grad, lead, hc.dtype), gates, hc, cs, dpre, dc_prev)

        def shaped(rows):
            return rows.reshape(lead + rows.shape[-1:])

        return (dpre.T @ xs, dpre.T @ hs, dpre.sum(axis=0),
                shaped(dpre @ U), shaped(dc_prev), shaped(dpre @ W))

    @staticmethod
    def jvp(ctx, dW, dU, db, dh_prev, dc_prev, dx):
        """The tangent [dh | dc] from the inputs' tangents (None: held constant): the tangent of the
        pre-activations, dpre = dx W^T + x dW^T + dh_prev U^T + h_prev dU^T + db, then through the
        saved gates as ``rnn.gated_common.lstm_tangent`` writes out."""
        W, U, xs, hs, cs, gates, hc = ctx.saved
        lead = ctx.meta
        n = U.shape[1]
        dpre = pre_tangent(gates, lead, ((dx, W), (dh_prev, U)), ((xs, dW), (hs, dU)), db)
        dc_prev = None if dc_prev is None else as_rows(dc_prev, lead, gates.dtype)
        dh, dc = lstm_tangent(dpre, gates, cs, hc[:, n:], dc_prev)
        return np.concatenate([dh, dc], axis=1).reshape(lead + (2 * n,))


class GRUStep(Function):
    """The fused GRU update h = gru(W x + b, U h_prev, b_hn, h_prev) as one node.

    Inputs W, U, b, b_hn, h_prev, x.  Backward: the kernel gives
    dx_pre = dL/d(W x + b), dh_pre = dL/d(U h_prev) (its candidate block is
    also dL/db_hn) and the part of dL/dh_prev that skips U (through z);
    then dL/dW = sum_rows dx_pre x^T, dL/dU = sum_rows dh_pre h_prev^T,
    dL/db = sum_rows dx_pre, dL/dh_prev = that part + U^T dh_pre, dL/dx = W^T dx_pre.
    """

    name = "gru_step"

    @classmethod
    def check(cls, W, U, b, b_hn, h_prev, x):
        check_gated(cls.name, 3, W, U, b, x, (h_prev,), b_hn)

    @staticmethod
    def forward(ctx, W, U, b, b_hn, h_prev, x):
        lead = lead_shape(h_prev, x)
        dtype = np.result_type(W, U, b, b_hn, h_prev, x)
        xs, hs = (as_rows(a, lead, dtype) for a in (x, h_prev))
        px = xs @ W.T
        px += b
        ph = hs @ U.T
        gates = np.empty_like(px)
        hn = np.empty_like(hs)
        h = np.empty_like(hs)
        gru_forward(px, ph, np.ascontiguousarray(b_hn, dtype=dtype), hs, gates, hn, h)
        ctx.save(W, U, xs, hs, gates, hn)
        ctx.meta = lead
        return h.reshape(lead + h.shape[-1:])

    @staticmethod
    def backward(ctx, grad):
        W, U, xs, hs, gates, hn = ctx.saved
        lead = ctx.meta
        n = hs.shape[1]
        dpx, dph = np.empty_like(gates), np.empty_like(gates)
        dh_prev = np.empty_like(hs)
        gru_backward(as_rows(grad, lead, hs.dtype), gates, hn, hs, dpx, dph, dh_prev)
        dh_prev += dph @ U

        def shaped(rows):
            return rows.reshape(lead + rows.shape[-1:])

        return (dpx.T @ xs, dph.T @ hs, dpx.sum(axis=0), dph[:, 2 * n:].sum(axis=0),
                shaped(dh_prev), shaped(dpx @ W))

    @staticmethod
    def jvp(ctx, dW, dU, db, db_hn, dh_prev, dx):
        """The tangent dh from the inputs' tangents (None: held constant): dpx = dx W^T + x dW^T + db
        and dph = dh_prev U^T + h_prev dU^T (+ db_hn in its n block), then through the saved gates as
        ``rnn.gated_common.gru_tangent`` writes out."""
        W, U, xs, hs, gates, hn = ctx.saved
        lead = ctx.meta
        n = hs.shape[1]
        dpx = pre_tangent(gates, lead, ((dx, W),), ((xs, dW),), db)
        dph = pre_tangent(gates, lead, ((dh_prev, U),), ((hs, dU),), db_hn, bias_columns=slice(2 * n, None))
        dh_prev = None if dh_prev is None else as_rows(dh_prev, lead, gates.dtype)
        return gru_tangent(dpx, dph, gates, hn, hs, dh_prev).reshape(lead + (n,))


# -- the cells -----------------------------------------------------------------
def _h_and_c(state, where: str):
    """The LSTM's state (h, c), or a TypeError naming ``where`` for anything else."""
    if not (isinstance(state, tuple) and len(state) == 2):
        raise TypeError(f"{where}: state must be the tuple (h, c) that initial_state() returns, "
                        f"got {type(state).__name__}")
    return state


class _GatedCell(Module):
    """What the LSTM and the GRU share: sizes, stacked initial weights, the readout."""

    gates = 0  # how many gate blocks W, U and b stack

    def __init__(self, n_in, n_hidden, n_out, fused, dtype):
        super().__init__()
        self.n_in = positive_int("n_in", n_in)
        self.n_hidden = positive_int("n_hidden", n_hidden)
        self.n_out = positive_int("n_out", n_out)
        self.fused = bool(fused)
        self.dtype = np.dtype(dtype)

    def _gate_weights(self, rng):
        """(W, U): each gate's block of W Glorot-uniform, of U orthogonal (so the
        recurrent product neither shrinks nor grows a gradient at first)."""
        n, k = self.n_hidden, self.gates
        W = np.concatenate([init.xavier_uniform((n, self.n_in), rng) for _ in range(k)])
        U = np.concatenate([init.orthogonal((n, n), rng) for _ in range(k)])
        return Parameter(W, dtype=self.dtype, name="W"), Parameter(U, dtype=self.dtype, name="U")

    def _readout_weights(self, rng):
        """(C, b_y): C Glorot-uniform, b_y zero."""
        C = init.xavier_uniform((self.n_out, self.n_hidden), rng)
        return Parameter(C, dtype=self.dtype, name="C"), Parameter(np.zeros(self.n_out), dtype=self.dtype, name="b_y")

    def _zeros(self, batch, name: str):
        shape = (self.n_hidden,) if batch is None else (positive_int("batch", batch), self.n_hidden)
        return mg.tensor(np.zeros(shape, dtype=self.dtype), name=name)

    def _readout(self, h):
        """y_hat = C h + b_y, for one state or a stack of them (then as one product)."""
        return mg.matvec(self.C, h) + self.b_y

    @property
    def scan(self):
        """The fused cell runs a whole segment as one scan node (``run_segment``); the per-op
        cell has no scan (None), so the driver steps it and every gate stays on the tape, and
        neither has a subclass that overrides ``step`` (``rnn.protocol.scan_matches_step``)."""
        return self.run_segment if self.fused and scan_matches_step(self) else None

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_in={self.n_in}, n_hidden={self.n_hidden}, n_out={self.n_out}, "
                f"fused={self.fused}, dtype={self.dtype})")


class LSTM(_GatedCell):
    """Long short-term memory (Hochreiter and Schmidhuber 1997, with the forget gate
    of Gers et al. 2000), state (h, c):

        i_t = sigmoid(W_i x_t + U_i h_{t-1} + b_i)      input gate
        f_t = sigmoid(W_f x_t + U_f h_{t-1} + b_f)      forget gate
        g_t = tanh(W_g x_t + U_g h_{t-1} + b_g)         candidate cell
        o_t = sigmoid(W_o x_t + U_o h_{t-1} + b_o)      output gate
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * tanh(c_t)
        y_hat_t = C h_t + b_y

    Parameters (n = n_hidden), gates stacked in the order i, f, g, o:
    "W" (4n, n_in) = [W_i; W_f; W_g; W_o], "U" (4n, n) likewise, "b" (4n,),
    "C" (n_out, n), "b_y" (n_out,).  W and C start Glorot-uniform, each block
    of U orthogonal, b zero except b_f = 1: the cell starts by keeping most of
    c, so gradient flows back along c from the first update (Jozefowicz et al. 2015).
    All random values come from ``np.random.default_rng(seed)``.
    """

    gates = 4

    def __init__(self, n_in, n_hidden, n_out, seed=0, fused=True, dtype=np.float64):
        super().__init__(n_in, n_hidden, n_out, fused, dtype)
        rng = np.random.default_rng(seed)
        self.W, self.U = self._gate_weights(rng)
        b = np.zeros(4 * self.n_hidden)
        b[self.n_hidden:2 * self.n_hidden] = 1.0
        self.b = Parameter(b, dtype=self.dtype, name="b")
        self.C, self.b_y = self._readout_weights(rng)

    def initial_state(self, batch=None):
        """(h0, c0): zeros of shape (n_hidden,), or (batch, n_hidden)."""
        return self._zeros(batch, "h0"), self._zeros(batch, "c0")

    def step(self, x, state):
        """One time step: ((h_t, c_t), y_hat_t) from x_t and state = (h_{t-1}, c_{t-1})."""
        h, c = _h_and_c(state, "LSTM.step")
        if self.fused:
            hc = LSTMStep.apply(self.W, self.U, self.b, h, c, x)
            h, c = _block(hc, 0, self.n_hidden), _block(hc, 1, self.n_hidden)
        else:
            h, c = self._step_ops(x, h, c)
        return (h, c), self._readout(h)

    def run_segment(self, xs, state, factors):
        """Steps 1..L of a segment from state (h, c): ((h_1..h_L, c_1..c_L), y_hat_1..y_hat_L),
        each stacked along a first axis of length L.

        The recurrence as one ``LSTMScan`` node (``factors``: the plan's factor on
        each step's incoming edge, for h and c alike), and C h_t + b_y for every
        step as one product.  ``xs`` (L, ..., n_in) may be a Tensor: gradient reaches it.
        """
        h, c = _h_and_c(state, "LSTM.run_segment")
        hc = LSTMScan.apply(self.W, self.U, self.b, h, c, xs, factors=factors)
        hs, cs = _block(hc, 0, self.n_hidden), _block(hc, 1, self.n_hidden)
        return (hs, cs), self._readout(hs)

    def _step_ops(self, x, h, c):
        """The update from engine ops, one node per product, slice, gate and product."""
        n = self.n_hidden
        pre = mg.matvec(self.W, x) + mg.matvec(self.U, h) + self.b
        i, f, o = (mg.sigmoid(_block(pre, k, n)) for k in (0, 1, 3))
        g = mg.tanh(_block(pre, 2, n))
        c = f * c + i * g
        return o * mg.tanh(c), c


class GRU(_GatedCell):
    """Gated recurrent unit (Cho et al. 2014, in PyTorch's form), state h:

        r_t = sigmoid(W_r x_t + U_r h_{t-1} + b_r)                  reset gate
        z_t = sigmoid(W_z x_t + U_z h_{t-1} + b_z)                  update gate
        n_t = tanh(W_n x_t + b_n + r_t * (U_n h_{t-1} + b_hn))      candidate state
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}
        y_hat_t = C h_t + b_y

    Parameters (n = n_hidden), gates stacked in the order r, z, n:
    "W" (3n, n_in) = [W_r; W_z; W_n], "U" (3n, n) likewise, "b" (3n,) =
    [b_r; b_z; b_n], "b_hn" (n,) (the bias inside the reset product, which
    therefore cannot be merged into b), "C" (n_out, n), "b_y" (n_out,).
    W and C start Glorot-uniform, each block of U orthogonal, biases zero;
    all random values come from ``np.random.default_rng(seed)``.
    """

    gates = 3

    def __init__(self, n_in, n_hidden, n_out, seed=0, fused=True, dtype=np.float64):
        super().__init__(n_in, n_hidden, n_out, fused, dtype)
        rng = np.random.default_rng(seed)
        self.W, self.U = self._gate_weights(rng)
        self.b = Parameter(np.zeros(3 * self.n_hidden), dtype=self.dtype, name="b")
        self.b_hn = Parameter(np.zeros(self.n_hidden), dtype=self.dtype, name="b_hn")
        self.C, self.b_y = self._readout_weights(rng)

    def initial_state(self, batch=None):
        """h0: zeros of shape (n_hidden,), or (batch, n_hidden)."""
        return self._zeros(batch, "h0")

    def step(self, x, h):
        """One time step: (h_t, y_hat_t) from x_t and h_{t-1}."""
        if self.fused:
            h = GRUStep.apply(self.W, self.U, self.b, self.b_hn, h, x)
        else:
            h = self._step_ops(x, h)
        return h, self._readout(h)

    def run_segment(self, xs, h, factors):
        """Steps 1..L of a segment from state h: (h_1..h_L, y_hat_1..y_hat_L), each stacked
        along a first axis of length L.

        The recurrence as one ``GRUScan`` node (``factors``: the plan's factor on
        each step's incoming edge), and C h_t + b_y for every step as one product.
        ``xs`` (L, ..., n_in) may be a Tensor: gradient reaches it.
        """
        hs = GRUScan.apply(self.W, self.U, self.b, self.b_hn, h, xs, factors=factors)
        return hs, self._readout(hs)

    def _step_ops(self, x, h_prev):
        """The update from engine ops, one node per product, slice, gate and product."""
        n = self.n_hidden
        px = mg.matvec(self.W, x) + self.b
        ph = mg.matvec(self.U, h_prev)
        r = mg.sigmoid(_block(px, 0, n) + _block(ph, 0, n))
        z = mg.sigmoid(_block(px, 1, n) + _block(ph, 1, n))
        cand = mg.tanh(_block(px, 2, n) + r * (_block(ph, 2, n) + self.b_hn))
        return (1 - z) * cand + z * h_prev
