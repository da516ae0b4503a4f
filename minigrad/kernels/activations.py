"""Element-wise activations and their derivatives: the one table of activations.

Every activation has a name, an integer code (a named constant: the fused
kernels take the code, since numba cannot pass a Python function cheaply),
the scalar formulas the kernels inline (``activate``, ``derivative_from_output``)
and the same formulas on NumPy arrays (``NUMPY_FORMULAS``: what
``rnn.manual``'s hand-derived BPTT uses, and what the tests hold the kernels
to).  The minigrad op of an activation is the function of the same name in
``minigrad.ops`` (identity needs none), and ``rnn.cells.ACTIVATIONS`` is read
from this table.  So adding an activation here means: a constant, an entry in
``ACTIVATION_CODES``, a branch in ``activate`` and in
``derivative_from_output``, and an entry in ``NUMPY_FORMULAS``; plus its op.

The derivatives are written through the *output* y = f(z) where that is
possible (tanh' = 1 - y^2, sigmoid' = y (1 - y)), so a backward needs only the
saved output, and one pass computes grad * f'(.) without temporaries.  A code
that is not in the table raises a ValueError inside the kernels: there is no
silent fallback to the identity.
"""

import math

import numpy as np
from numba import njit

IDENTITY = 0  #: f(z) = z
TANH = 1  #: f(z) = tanh z
SIGMOID = 2  #: f(z) = 1 / (1 + e^-z)
RELU = 3  #: f(z) = max(z, 0)

#: activation name -> the integer code the fused kernels take
ACTIVATION_CODES = {"identity": IDENTITY, "tanh": TANH, "sigmoid": SIGMOID, "relu": RELU}


@njit(cache=True)
def activate(v, code):
    """f(v) for one number, f chosen by ``code`` (one of the constants above).

    The sigmoid branch never overflows: for v < 0 it uses e^v / (1 + e^v).
    """
    if code == TANH:
        return math.tanh(v)
    if code == SIGMOID:
        if v >= 0:
            return 1.0 / (1.0 + math.exp(-v))
        e = math.exp(v)
        return e / (1.0 + e)
    if code == RELU:
        return v if v > 0 else 0.0
    if code == IDENTITY:
        return v
    raise ValueError("activate: unknown activation code (see minigrad.kernels.ACTIVATION_CODES)")


@njit(cache=True)
def derivative_from_output(y, code):
    """f'(z) written through y = f(z): tanh 1 - y^2, sigmoid y (1 - y), relu [y > 0], identity 1."""
    if code == TANH:
        return 1.0 - y * y
    if code == SIGMOID:
        return y * (1.0 - y)
    if code == RELU:
        return 1.0 if y > 0 else 0.0
    if code == IDENTITY:
        return 1.0
    raise ValueError("derivative_from_output: unknown activation code (see minigrad.kernels.ACTIVATION_CODES)")


# -- the same formulas on NumPy arrays --------------------------------------------
def _sigmoid(z):
    """1 / (1 + e^{-z}), computed as (1 + tanh(z/2)) / 2, which never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


#: activation name -> (f, f' written through y = f(z)), both on NumPy arrays.  relu' is
#: taken as 0 at the kink z = 0, as in the kernels.
NUMPY_FORMULAS = {
    "identity": (lambda z: z, lambda y: np.ones_like(y)),
    "tanh": (np.tanh, lambda y: 1.0 - y**2),
    "sigmoid": (_sigmoid, lambda y: y * (1.0 - y)),
    "relu": (lambda z: np.maximum(z, 0.0), lambda y: (y > 0).astype(float)),
}


#: tanh(x) ~ x P(x^2) / Q(x^2) on [-TANH_CLAMP, TANH_CLAMP], lowest power first
#: (fitted by scripts/fit_tanh.py; beyond the clamp, tanh rounds to +-1 in float32).
TANH_P = (0.9999999960840728, 0.13632429700274243, 0.0038090855282135335, 2.6830443465368935e-05,
          2.7842227626968826e-08, -1.0263660185953722e-11)
TANH_Q = (1.0, 0.4696575945164902, 0.02702833820282163, 0.0003834799589218651, 1.2062405231462916e-06)
TANH_CLAMP = 10.0


@njit(cache=True, error_model="numpy")
def tanh_float32(v):
    """tanh(v) for one number, as the rational function above, for a float32 result.

    Plain arithmetic without a call or a branch the compiler cannot turn into a
    select, so a loop of it vectorises (``tanh_rational``, the gate kernels).
    Evaluated in float64: rounded to float32 it is within 0.6 float32 spacings of
    the true tanh; NaN stays NaN.  ``error_model="numpy"`` drops the
    division-by-zero check, whose branch would stop the vectorisation (Q is at
    least 1, so it never divides by zero).
    """
    p0, p1, p2, p3, p4, p5 = TANH_P
    q0, q1, q2, q3, q4 = TANH_Q
    v = float(v)
    v = TANH_CLAMP if v > TANH_CLAMP else v
    v = -TANH_CLAMP if v < -TANH_CLAMP else v
    s = v * v
    p = p0 + s * (p1 + s * (p2 + s * (p3 + s * (p4 + s * p5))))
    q = q0 + s * (q1 + s * (q2 + s * (q3 + s * q4)))
    return v * p / q


@njit(cache=True)
def tanh_rational(z, out):
    """out[i] = tanh(z[i]) for float32 arrays, as ``tanh_float32``.

    ``math.tanh`` calls the C library once per element (about 14 ns in
    float32); this loop is plain arithmetic, which the compiler turns into
    SIMD code (under half a nanosecond per element).  Within 0.6 float32
    spacings of the true tanh (NumPy's float32 tanh: 1.4); NaN stays NaN.
    """
    for i in range(z.size):
        out[i] = tanh_float32(z[i])


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
    if code == TANH:
        for i in range(y.size):
            out[i] = grad[i] * (1 - y[i] * y[i])
        return
    for i in range(y.size):
        out[i] = grad[i] * derivative_from_output(y[i], code)
