"""Recurrent cells: Modules that advance a hidden state by one time step.

The cell protocol, which every strategy and ``rnn.gradients``/``rnn.fit`` rely
on, is two methods:

    initial_state(batch) -> h0      # batch=None for an unbatched (T, n_in) sequence
    step(x_t, h) -> (h, y_hat)      # one time step; h may be a tuple of tensors

Any Module with these two methods is a cell, including one written by a
student with a single scalar parameter.

The Elman RNN (Elman 1990), in the notation of the derivations:

    h_t     = f(A h_{t-1} + B x_t)        A: (n_hidden, n_hidden)  B: (n_hidden, n_in)
    y_hat_t = g(C h_t)                    C: (n_out, n_hidden)

With a batch, x_t is (batch, n_in) and each row is one example.  ``fused=True``
records the recurrent update as one node per step (two BLAS products and one
numba pass, with a hand-written backward); ``fused=False`` records every
matrix-vector product and activation as its own node, for drawing and teaching.
Both give the same gradients.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import init
from minigrad.kernels import ACTIVATION_CODES, activation_backward, rnn_cell_forward
from minigrad.nn import Module, Parameter
from minigrad.ops import Function

from .gated import GRU, LSTM, check_size  # the gated cells live in their own module

ACTIVATIONS = {
    "identity": lambda z: z,
    "tanh": mg.tanh,
    "sigmoid": mg.sigmoid,
    "relu": mg.relu,
}


def _activation(role: str, name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"{role} must be one of {', '.join(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]


def _flat(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).reshape(-1)


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
        rows = delta.reshape(-1, A.shape[0])
        dA = rows.T @ np.broadcast_to(h_prev, h.shape).reshape(-1, A.shape[1])
        dB = rows.T @ np.broadcast_to(x, h.shape[:-1] + x.shape[-1:]).reshape(-1, B.shape[1])
        grads = (dA, dB, delta @ A, delta @ B)
        return grads + (delta,) * (len(ctx.inputs) - 4)


class ElmanRNN(Module):
    """h_t = f(A h_{t-1} + B x_t [+ b_h]),  y_hat_t = g(C h_t [+ b_y]).

    A starts orthogonal (its powers neither vanish nor explode at first),
    B and C Glorot-uniform; all from ``seed``.
    """

    weight_names = ("A", "B", "C")

    def __init__(self, n_in, n_hidden, n_out, f="tanh", g="identity", bias=False, seed=0,
                 fused=True, dtype=np.float64):
        super().__init__()
        self.n_in = check_size("n_in", n_in)
        self.n_hidden = check_size("n_hidden", n_hidden)
        self.n_out = check_size("n_out", n_out)
        self.f_name, self.g_name = f, g
        self.f, self.g = _activation("f", f), _activation("g", g)
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


__all__ = ["ElmanRNN", "LinearRNN", "LSTM", "GRU", "ElmanStep", "ACTIVATIONS"]
