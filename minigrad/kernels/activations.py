"""Element-wise activations and their derivatives, on flat contiguous arrays.

The derivatives are written through the *output* y = f(z) where that is
possible (tanh' = 1 - y^2, sigmoid' = y (1 - y)), so a backward needs only the
saved output, and one pass computes grad * f'(.) without temporaries.
"""

import math

from numba import njit

#: activation name -> the integer code the fused kernels take
ACTIVATION_CODES = {"identity": 0, "tanh": 1, "sigmoid": 2, "relu": 3}


@njit(cache=True)
def activate(v, code):
    """f(v) for one number, f chosen by ``code`` (see ACTIVATION_CODES).

    The sigmoid branch never overflows: for v < 0 it uses e^v / (1 + e^v).
    """
    if code == 1:
        return math.tanh(v)
    if code == 2:
        if v >= 0:
            return 1.0 / (1.0 + math.exp(-v))
        e = math.exp(v)
        return e / (1.0 + e)
    if code == 3:
        return v if v > 0 else 0.0
    return v


@njit(cache=True)
def derivative_from_output(y, code):
    """f'(z) written through y = f(z): tanh 1 - y^2, sigmoid y (1 - y), relu [y > 0], identity 1."""
    if code == 1:
        return 1.0 - y * y
    if code == 2:
        return y * (1.0 - y)
    if code == 3:
        return 1.0 if y > 0 else 0.0
    return 1.0


@njit(cache=True)
def activation_forward(z, code, out):
    """out[i] = f(z[i]) in place."""
    for i in range(z.size):
        out[i] = activate(z[i], code)


@njit(cache=True)
def activation_backward(y, grad, code, out):
    """out[i] = grad[i] * f'(z[i]) in place, with f' written through y = f(z).

    tanh, the common case, gets a loop without a branch on ``code`` inside, which
    the compiler vectorises (the integer 1 keeps float32 arithmetic in float32).
    """
    if code == 1:
        for i in range(y.size):
            out[i] = grad[i] * (1 - y[i] * y[i])
        return
    for i in range(y.size):
        out[i] = grad[i] * derivative_from_output(y[i], code)
