"""The element-wise part of a fused recurrent step.

A fused Elman step computes h = f(A h_prev + B x) as two BLAS products and this
one pass, which adds them and applies f without a temporary; its backward is
``activation_backward`` (dpre = dh * f'(.), through the saved output h).
"""

from numba import njit

from .activations import activate


@njit(cache=True)
def rnn_cell_forward(recurrent, projected, code, out):
    """out[i] = f(recurrent[i] + projected[i]) in place (f by code, as in ACTIVATION_CODES)."""
    for i in range(out.size):
        out[i] = activate(recurrent[i] + projected[i], code)
