r"""Assignment 5: the backward pass of a fused LSTM step.

The LSTM (gates stacked in the order i, f, g, o; n = n_hidden):

    pre_t = W x_t + U h_{t-1} + b                       (4n values: [pre_i | pre_f | pre_g | pre_o])
    i = sigmoid(pre_i)   f = sigmoid(pre_f)   g = tanh(pre_g)   o = sigmoid(pre_o)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)

Built from engine ops, one step is some twenty nodes on the tape (``rnn.LSTM(...,
fused=False)``).  A fused step is one node: NumPy does the two matrix
products, a numba kernel (``lstm_forward``, from ``rnn.gated``) the gates and
the state update in one pass, and the backward is written by hand: that
backward is your job.  It comes in two parts:

* task5_1 ``gate_backward``: the element-wise part, from dL/dh_t and dL/dc_t
  to dL/dpre_t and dL/dc_{t-1} (the kernel ``lstm_backward`` of ``rnn.gated``
  does this in the engine; here you write it in NumPy);
* task5_2 ``FusedLSTMStep.backward``: the rest, the gradients of W, U, b,
  h_{t-1}, c_{t-1} and x_t, calling your ``gate_backward``.

``LSTMCell`` is ``rnn.LSTM`` with its step made of your node, so every BPTT
strategy of the engine runs on it: ``rnn.gradients(LSTMCell(2, 8, 1), xs, ys, rnn.Full())``.

Arrays are laid out one row per example: with a batch of B sequences, x_t is
(B, n_in) and h, c are (B, n); for one sequence there is one row.

What you may use: NumPy, your gate_backward, and in FusedLSTMStep the arrays
the forward saved.  While your code is graded, the engine's own LSTM
backward (``rnn.gated.LSTMStep.backward`` and the kernel ``lstm_backward``)
raises ``SwitchedOff``, and so does a backward run inside your backward (your
gradients must be computed, not asked of the tape); see tests/probes.py.
"""

import numpy as np

import minigrad as mg
import rnn
from minigrad.errors import ShapeError
from minigrad.kernels.gates import lstm_forward
from minigrad.ops import Function


def gate_backward(grad_h, grad_c, gates, c, c_prev):
    """(dL/dpre (rows, 4n), dL/dc_prev (rows, n)) of one step, element-wise.

    grad_h, grad_c: dL/dh_t and dL/dc_t (rows, n), the gradient arriving at the
    step's two outputs; gates (rows, 4n): [i | f | g | o], after their
    nonlinearities; c: c_t and c_prev: c_{t-1} (rows, n).
    """
    # Hint: c_t reaches L directly (grad_c) and through h_t = o * tanh(c_t): add both into dL/dc_t first.
    # Then follow each gate back through its nonlinearity, written through its output
    # (sigmoid' = s (1 - s), tanh' = 1 - t^2); np.split(gates, 4, axis=1) and np.concatenate help.
    # BEGIN SOLUTION task5_1
    i, f, g, o = np.split(gates, 4, axis=1)
    tanh_c = np.tanh(c)
    dc = grad_c + grad_h * o * (1.0 - tanh_c * tanh_c)
    dpre = np.concatenate([
        dc * g * i * (1.0 - i),
        dc * c_prev * f * (1.0 - f),
        dc * i * (1.0 - g * g),
        grad_h * tanh_c * o * (1.0 - o),
    ], axis=1)
    return dpre, dc * f
    # END SOLUTION


def _rows(a, lead, dtype):
    """``a`` broadcast to the batch shape ``lead`` and laid out as a C-contiguous (rows, features) matrix."""
    return np.ascontiguousarray(np.broadcast_to(a, lead + a.shape[-1:]), dtype=dtype).reshape(-1, a.shape[-1])


class FusedLSTMStep(Function):
    """One LSTM step as one node: inputs W, U, b, h_prev, c_prev, x; output [h | c] along the last axis.

    ``check`` validates the shapes, the forward below runs the kernel; the backward is yours.
    """

    name = "student_lstm_step"

    @classmethod
    def check(cls, W, U, b, h_prev, c_prev, x):
        """W (4n, n_in), U (4n, n), b (4n,), h_prev and c_prev (..., n), x (..., n_in); a ShapeError otherwise."""
        n = U.shape[-1] if len(U.shape) == 2 else -1
        if not (len(W.shape) == 2 and U.shape == (4 * n, n) and W.shape[0] == 4 * n and b.shape == (4 * n,)
                and h_prev.shape[-1:] == (n,) and c_prev.shape[-1:] == (n,) and x.shape[-1:] == W.shape[1:]):
            raise ShapeError(
                f"{cls.name}: needs W (4n, n_in), U (4n, n), b (4n,), h_prev and c_prev (..., n), x (..., n_in); "
                f"got W {W.shape}, U {U.shape}, b {b.shape}, h_prev {h_prev.shape}, c_prev {c_prev.shape}, x {x.shape}"
            )

    @staticmethod
    def forward(ctx, W, U, b, h_prev, c_prev, x):
        n = U.shape[1]
        lead = np.broadcast_shapes(h_prev.shape[:-1], c_prev.shape[:-1], x.shape[:-1])
        dtype = np.result_type(W, U, b, h_prev, c_prev, x)
        xs, hs, cs = (_rows(a, lead, dtype) for a in (x, h_prev, c_prev))
        pre = xs @ W.T + hs @ U.T + b
        gates = np.empty_like(pre)
        hc = np.empty((len(pre), 2 * n), dtype=dtype)
        lstm_forward(pre, cs, gates, hc)
        ctx.save(W, U, xs, hs, cs, gates, hc)
        ctx.meta = lead
        return hc.reshape(lead + (2 * n,))

    @staticmethod
    def backward(ctx, grad):
        """grad = dL/d[h | c], of shape lead + (2n,); returns (dW, dU, db, dh_prev, dc_prev, dx).

        ctx.saved = (W, U, xs, hs, cs, gates, hc): the weights, then x, h_prev and
        c_prev as (rows, features) matrices, the gates (rows, 4n) and the output
        [h | c] (rows, 2n).  ctx.meta = lead, the batch shape (() for one sequence).
        dh_prev, dc_prev and dx must have the shape lead + (features,); the engine
        then sums them back to their inputs' shapes if those were broadcast.
        """
        W, U, xs, hs, cs, gates, hc = ctx.saved
        lead = ctx.meta
        n = U.shape[1]
        # Hint: flatten grad to rows (grad.reshape(-1, 2 * n)), split it into dL/dh and dL/dc, call
        # gate_backward; then pre = x W^T + h U^T + b gives dW = dpre^T x, dU = dpre^T h,
        # db = sum over rows, and dL/dh_prev, dL/dx through U and W.
        # BEGIN SOLUTION task5_2
        rows = grad.reshape(-1, 2 * n)
        dpre, dc_prev = gate_backward(rows[:, :n], rows[:, n:], gates, hc[:, n:], cs)

        def shaped(a):
            return a.reshape(lead + a.shape[-1:])

        return (dpre.T @ xs, dpre.T @ hs, dpre.sum(axis=0),
                shaped(dpre @ U), shaped(dc_prev), shaped(dpre @ W))
        # END SOLUTION


class LSTMCell(rnn.LSTM):
    """``rnn.LSTM`` (same parameters W, U, b, C, b_y, same initial values for a seed) stepping with your node."""

    def step(self, x, state):
        """((h_t, c_t), y_hat_t) from x_t and state = (h_{t-1}, c_{t-1})."""
        h, c = state
        hc = FusedLSTMStep.apply(self.W, self.U, self.b, h, c, x)
        n = self.n_hidden
        h, c = hc[..., :n], hc[..., n:]
        return (h, c), mg.matvec(self.C, h) + self.b_y
