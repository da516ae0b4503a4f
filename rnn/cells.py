"""Recurrent cells: Modules that advance a hidden state by one time step.

The cell protocol, which every strategy and ``rnn.gradients``/``rnn.fit`` rely
on, is two methods:

    initial_state(batch) -> h0      # batch=None for an unbatched (T, n_in) sequence
    step(x_t, h) -> (h, y_hat)      # one time step; h may be a tuple of tensors

Any Module with these two methods is a cell, including one written by a
student with a single scalar parameter.  A cell may also offer

    scan -> None, or a function (xs, h, factors) -> (states, outputs)

which runs a whole segment of steps at once (the plan's edge factors inside
it); the driver then records a few nodes per segment instead of several per
step.  The fused Elman RNN does; its gradients equal the stepped ones.

The Elman RNN (Elman 1990), in the notation of the derivations:

    h_t     = f(A h_{t-1} + B x_t)        A: (n_hidden, n_hidden)  B: (n_hidden, n_in)
    y_hat_t = g(C h_t)                    C: (n_out, n_hidden)

With a batch, x_t is (batch, n_in) and each row is one example.  ``fused=True``
records the recurrent update as one node per step (two BLAS products and one
numba pass, with a hand-written backward), or as one node per segment when the
driver scans (see ``rnn.fused``); ``fused=False`` records every
matrix-vector product and activation as its own node, for drawing and teaching.
Both give the same gradients.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import init
from minigrad.kernels import ACTIVATION_CODES
from minigrad.nn import Module, Parameter

from .fused import ElmanScan, ElmanStep
from .gated import GRU, LSTM, check_size  # the gated cells live in their own module

ACTIVATIONS = {
    "identity": lambda z: z,
    "tanh": mg.tanh,
    "sigmoid": mg.sigmoid,
    "relu": mg.relu,
}


def activation(role: str, name: str):
    """The activation called ``name`` (for the role ``role``, "f" or "g"), or a ValueError listing the choices."""
    if name not in ACTIVATIONS:
        raise ValueError(f"{role} must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def holds_indices(x) -> bool:
    """Integer inputs (an array, or one step's index) are token indices, not features."""
    return not isinstance(x, mg.Tensor) and np.asarray(x).dtype.kind in "iu"


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
        self.n_in = check_size("n_in", n_in)
        self.n_hidden = check_size("n_hidden", n_hidden)
        self.n_out = check_size("n_out", n_out)
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
        shape = (self.n_hidden,) if batch is None else (batch, self.n_hidden)
        return mg.tensor(np.zeros(shape, dtype=self.dtype), name="h0")

    def step(self, x, h):
        A, B, C = self.weights()
        if holds_indices(x):  # one step at a time, the one-hot vector costs little
            x = np.eye(self.n_in, dtype=self.dtype)[x]
        if self.fused:
            extra = (self.b_h,) if self.bias else ()
            h = ElmanStep.apply(A, B, h, x, *extra, code=ACTIVATION_CODES[self.f_name])
        else:
            pre = mg.matvec(A, h) + mg.matvec(B, x)
            if self.bias:
                pre = pre + self.b_h
            h = self.f(pre)
        q = mg.matvec(C, h)
        if self.bias:
            q = q + self.b_y
        return h, self.g(q)

    @property
    def scan(self):
        """The fused cell runs a whole segment as one node (``run_segment``); the per-op cell
        has no scan (None), so the driver steps it and every op stays on the tape."""
        return self.run_segment if self.fused else None

    def run_segment(self, xs, h, factors):
        """Steps 1..L of a segment from state h: (states h_1..h_L, outputs y_hat_1..y_hat_L).

        Two nodes carry the segment: the recurrence, with B x_t for every step
        as one product, as one ``ElmanScan`` node (``factors``: the plan's
        factor on each step's incoming edge), and C h_t for every step as one
        product.  ``xs`` are data (vectors or token indices): no gradient flows to them.
        """
        A, B, C = self.weights()
        xs = np.asarray(xs.data if isinstance(xs, mg.Tensor) else xs)
        extra = (self.b_h,) if self.bias else ()
        states = ElmanScan.apply(A, B, h, *extra, xs=xs, factors=factors, code=ACTIVATION_CODES[self.f_name])
        q = mg.matvec(C, states)
        if self.bias:
            q = q + self.b_y
        return states, self.g(q)

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


__all__ = ["ElmanRNN", "LinearRNN", "LSTM", "GRU", "ElmanStep", "ElmanScan", "ACTIVATIONS"]
