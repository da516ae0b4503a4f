"""The layer-normalised Elman RNN (Ba, Kiros and Hinton, 2016), built from engine ops.

    z_t     = A h_{t-1} + B x_t
    h_t     = f(gamma * (z_t - mean(z_t)) / sqrt(var(z_t) + eps) + beta)
    y_hat_t = g(C h_t)

mean and var run over the n_hidden units of one example.  Dividing by the
spread of z_t makes the step blind to the scale of z_t: multiply A and B by
any s > 0 and h_t does not change (up to eps).  So the size of the recurrent weights no
longer decides whether a gradient sent back through many steps shrinks or
grows, which is why layer normalisation is a remedy for vanishing and
exploding gradients.

It follows the cell protocol (``rnn.protocol.Cell``: ``initial_state(batch)``,
``step(x_t, h) -> (h, y_hat)``), so every strategy drives it.  Every op is its
own node on the tape (no fused kernel): it is written to be read.
"""

from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import init
from minigrad.nn import Module, Parameter
from minigrad.validate import positive_int

from .cells import activation


def layer_norm(z, gamma, beta, eps: float):
    """gamma * (z - mean(z)) / sqrt(var(z) + eps) + beta over the last axis (the units)."""
    centred = z - z.mean(axis=-1, keepdims=True)
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return gamma * centred / (variance + eps) ** 0.5 + beta


class LayerNormElman(Module):
    """h_t = f(LN(A h_{t-1} + B x_t)), y_hat_t = g(C h_t), with LN's gain gamma and shift beta trained.

    A, B and C are drawn as ``rnn.ElmanRNN`` draws them from the same seed
    (A orthogonal, B and C Glorot-uniform), so the two cells can be compared
    weight for weight; gamma starts at 1 and beta at 0.
    """

    def __init__(self, n_in, n_hidden, n_out, f="tanh", g="identity", eps=1e-5, seed=0, dtype=np.float64):
        super().__init__()
        self.n_in = positive_int("n_in", n_in)
        self.n_hidden = positive_int("n_hidden", n_hidden)
        self.n_out = positive_int("n_out", n_out)
        if self.n_hidden < 2:
            raise ValueError("LayerNormElman needs n_hidden >= 2: normalising a single unit always gives 0")
        if not eps > 0:
            raise ValueError(f"eps must be positive (it keeps the division finite), got {eps!r}")
        self.f_name, self.g_name = f, g
        self.f, self.g = activation("f", f), activation("g", g)
        self.eps = float(eps)
        rng = np.random.default_rng(seed)
        self.A = Parameter(init.orthogonal((n_hidden, n_hidden), rng), dtype=dtype, name="A")
        self.B = Parameter(init.xavier_uniform((n_hidden, n_in), rng), dtype=dtype, name="B")
        self.C = Parameter(init.xavier_uniform((n_out, n_hidden), rng), dtype=dtype, name="C")
        self.gamma = Parameter(np.ones(n_hidden), dtype=dtype, name="gamma")
        self.beta = Parameter(np.zeros(n_hidden), dtype=dtype, name="beta")
        self.dtype = np.dtype(dtype)

    def weights(self):
        """(recurrent, input, output) matrices: (A, B, C), as for ``rnn.ElmanRNN``."""
        return self.A, self.B, self.C

    def initial_state(self, batch=None):
        shape = (self.n_hidden,) if batch is None else (positive_int("batch", batch), self.n_hidden)
        return mg.tensor(np.zeros(shape, dtype=self.dtype), name="h0")

    def step(self, x, h):
        z = mg.matvec(self.A, h) + mg.matvec(self.B, x)
        h = self.f(layer_norm(z, self.gamma, self.beta, self.eps))
        return h, self.g(mg.matvec(self.C, h))

    def __repr__(self) -> str:
        return (f"LayerNormElman(n_in={self.n_in}, n_hidden={self.n_hidden}, n_out={self.n_out}, "
                f"f={self.f_name!r}, g={self.g_name!r}, eps={self.eps}, dtype={self.dtype})")


__all__ = ["LayerNormElman", "layer_norm"]
