"""The element-wise parts of a fused recurrent step, forward and backward.

A fused Elman step computes h = f(A h_prev + B x) as two BLAS products and one
pass, which adds them and applies f without a temporary.  A fused segment's
backward, at each step, adds the gradient from the loss to the one carried
back from the next step and multiplies by f'(.), again in one pass.
"""

from numba import njit

from .activations import activate, derivative_from_output


@njit(cache=True)
def rnn_cell_forward(recurrent, projected, code, out):
    """out[i] = f(recurrent[i] + projected[i]) in place (f by code, as in ACTIVATION_CODES)."""
    for i in range(out.size):
        out[i] = activate(recurrent[i] + projected[i], code)


@njit(cache=True)
def rnn_step_delta(h, grad, carried, code, out):
    """out[i] = (grad[i] + carried[i]) * f'(z[i]), f' written through h = f(z).

    dL/dz_t of one step: the loss's gradient at h_t plus the gradient carried
    back from step t+1, times the activation's slope.  tanh has its own
    branch-free loop, which the compiler vectorises.
    """
    if code == 1:
        for i in range(out.size):
            out[i] = (grad[i] + carried[i]) * (1 - h[i] * h[i])
        return
    for i in range(out.size):
        out[i] = (grad[i] + carried[i]) * derivative_from_output(h[i], code)
