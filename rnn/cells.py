"""Recurrent cells: Modules that advance a hidden state by one time step.

A cell is anything that follows ``rnn.protocol.Cell``: ``initial_state(batch)``
and ``step(x_t, h) -> (h, y_hat)``, plus the optional hooks documented there
(``n_in``, ``takes_indices``, ``scan``, ``weights()``).  Any Module with the
two methods is a cell, including one written by a student with a single
scalar parameter.

The Elman RNN (Elman 1990), in the notation of the derivations:

    h_t     = f(A h_{t-1} + B x_t)        A: (n_hidden, n_hidden)  B: (n_hidden, n_in)
    y_hat_t = g(C h_t)                    C: (n_out, n_hidden)

With a batch, x_t is (batch, n_in) and each row is one example.  ``fused=True``
records the recurrence as ``ElmanScan`` nodes (``rnn.fused``): one per
segment when the driver scans (B x_t for the whole segment inside it, as one
product), one of length 1 per ``step``, so a drawing of either shows what ran.
``fused=False`` records every matrix-vector product and activation as its own
node, for drawing and teaching.  Both give the same gradients.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import init, ops
from minigrad.kernels import ACTIVATION_CODES, IDENTITY
from minigrad.nn import Module, Parameter
from minigrad.validate import positive_int

from .fused import ElmanScan, elman_scan, elman_step, holds_indices
from .gated import GRU, LSTM  # the gated cells live in their own module
from .protocol import scan_matches_step


def _identity(z):
    """The identity activation records no node."""
    return z


def _activation_op(name: str, code: int):
    """The minigrad op of the activation ``name``: the function of that name in ``minigrad.ops``."""
    if code == IDENTITY:
        return _identity
    op = getattr(ops, name, None)
    if op is None:
        raise ImportError(f"activation {name!r} is in minigrad.kernels.ACTIVATION_CODES but minigrad.ops has no "
                          f"op {name}(): add it (with its row in tests/minigrad/op_table.py)")
    return op


#: activation name -> the minigrad op the per-op cells apply; the names are those of
#: ``minigrad.kernels.ACTIVATION_CODES`` (the fused kernels' codes), in the same order
ACTIVATIONS = {name: _activation_op(name, code) for name, code in ACTIVATION_CODES.items()}


def activation(role: str, name: str):
    """The activation called ``name`` (for the role ``role``, "f" or "g"), or a ValueError listing the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(f"{role} must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


class ElmanRNN(Module):
    """h_t = f(A h_{t-1} + B x_t [+ b_h]),  y_hat_t = g(C h_t [+ b_y]).

    A starts orthogonal (its powers neither vanish nor explode at first),
    B and C Glorot-uniform; all from ``seed``.
    """

    weight_names = ("A", "B", "C")
    #: xs may hold token indices (integers in [0, n_in)) instead of one-hot vectors: for a
    #: one-hot x_t, B x_t is column x_t of B, which a segment looks up instead of multiplying
    takes_indices = True

    def __init__(self, n_in, n_hidden, n_out, f="tanh", g="identity", bias=False, seed=0,
                 fused=True, dtype=np.float64):
        super().__init__()
        self.n_in = positive_int("n_in", n_in)
        self.n_hidden = positive_int("n_hidden", n_hidden)
        self.n_out = positive_int("n_out", n_out)
        self.f_name, self.g_name = f, g
        self.f, self.g = activation("f", f), activation("g", g)
        self.fused = bool(fused)
        rng = np.random.default_rng(seed)
        recurrent, inp, out = self.weight_names
        setattr(self, recurrent, Parameter(init.orthogonal((n_hidden, n_hidden), rng), dtype=dtype, name=recurrent))
        setattr(self, inp, Parameter(init.xavier_uniform((n_hidden, n_in), rng), dtype=dtype, name=inp))
        setattr(self, out, Parameter(init.xavier_uniform((n_out, n_hidden), rng), dtype=dtype, name=out))
        self.bias = bool(bias)
        if self.bias:
            self.b_h = Parameter(np.zeros(n_hidden), dtype=dtype, name="b_h")
            self.b_y = Parameter(np.zeros(n_out), dtype=dtype, name="b_y")
        self.dtype = np.dtype(dtype)

    def weights(self):
        """(recurrent, input, output) matrices: (A, B, C) here."""
        return tuple(getattr(self, name) for name in self.weight_names)

    def initial_state(self, batch=None):
        shape = (self.n_hidden,) if batch is None else (positive_int("batch", batch), self.n_hidden)
        return mg.tensor(np.zeros(shape, dtype=self.dtype), name="h0")

    def step(self, x, h):
        """One time step: (h_t, y_hat_t) from x_t (features, or a token index) and h_{t-1}.

        Fused: the scan of length 1 (``rnn.fused.elman_step``), the same node the
        driver's segments record; per-op: every product and f as its own node."""
        A, B, C = self.weights()
        bias = self.b_h if self.bias else None
        if self.fused:
            h = elman_step(A, B, h, x, bias, code=ACTIVATION_CODES[self.f_name])
        else:
            if holds_indices(x):  # one step at a time, the one-hot vector costs little
                x = np.eye(self.n_in, dtype=self.dtype)[x]
            pre = mg.matvec(A, h) + mg.matvec(B, x)
            h = self.f(pre if bias is None else pre + bias)
        return h, self._readout(C, h)

    def _readout(self, C, h):
        """y_hat = g(C h [+ b_y]) for one state or a stack of them."""
        q = mg.matvec(C, h)
        return self.g(q + self.b_y if self.bias else q)

    @property
    def scan(self):
        """The fused cell runs a whole segment as one ``ElmanScan`` node (``run_segment``); the
        per-op cell has no scan (None), so the driver steps it and every op stays on the tape,
        and neither has a subclass that overrides ``step`` (``rnn.protocol.scan_matches_step``)."""
        return self.run_segment if self.fused and scan_matches_step(self) else None

    def run_segment(self, xs, h, factors):
        """Steps 1..L of a segment from state h: (states h_1..h_L, outputs y_hat_1..y_hat_L).

        B x_t for every step as one product (a lookup for token indices), the
        recurrence as one ``ElmanScan`` node (``factors``: the plan's factor on
        each step's incoming edge), and C h_t for every step as one product.
        ``xs`` (vectors or token indices) may be a Tensor: gradient reaches it.
        """
        A, B, C = self.weights()
        states = elman_scan(A, B, h, xs, self.b_h if self.bias else None,
                            factors=factors, code=ACTIVATION_CODES[self.f_name])
        return states, self._readout(C, states)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_in={self.n_in}, n_hidden={self.n_hidden}, n_out={self.n_out}, "
                f"f={self.f_name!r}, g={self.g_name!r}, bias={self.bias}, fused={self.fused}, dtype={self.dtype})")


class LinearRNN(ElmanRNN):
    """The bias-free linear RNN of the vanishing-gradient analysis:

        h_t = W_hh h_{t-1} + W_hx x_t,    o_t = W_qh h_t.

    The Elman RNN with f = g = identity and no bias, under the names of the derivation.
    """

    weight_names = ("W_hh", "W_hx", "W_qh")

    def __init__(self, n_in, n_hidden, n_out, seed=0, fused=True, dtype=np.float64):
        super().__init__(n_in, n_hidden, n_out, f="identity", g="identity", bias=False, seed=seed,
                         fused=fused, dtype=dtype)

    def __repr__(self) -> str:
        return (f"LinearRNN(n_in={self.n_in}, n_hidden={self.n_hidden}, n_out={self.n_out}, "
                f"fused={self.fused}, dtype={self.dtype})")


__all__ = ["ElmanRNN", "LinearRNN", "LSTM", "GRU", "ElmanScan", "ACTIVATIONS", "activation", "holds_indices"]
